// SPDX-License-Identifier: MIT
// lamina: writes HDF5 files in the simplest form io/hdf5.hpp and h5py read: groups and contiguous numeric datasets.
#pragma once

// The form: superblock version 0 (8-byte offsets and lengths), version-1 object headers,
// old-style groups (one local heap of names, one B-tree node, one symbol table node holding
// every member: the superblock's leaf "K" is made large enough), contiguous datasets of
// little-endian integers and IEEE floats. No attributes, no strings, no compression.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <lamina/io/hdf5.hpp>

namespace lamina::io::hdf5 {

namespace detail {

class Writer {
public:
    std::vector<std::byte> write(const Object& root) {
        leaf_k_ = std::max<std::uint64_t>(4, (largest_group(root) + 1) / 2);
        if (leaf_k_ > 0xFFFF) throw std::invalid_argument("lamina::io::hdf5::write: a group of over 131070 members");
        out_.assign(96, std::byte{0});
        static constexpr unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
        for (std::size_t i = 0; i < 8; ++i) out_[i] = std::byte(signature[i]);
        // Versions 0 (superblock, free space, root entry, reserved, shared headers), sizes 8, 8.
        set(13, 8, 1), set(14, 8, 1);
        set(16, leaf_k_, 2), set(18, internal_k, 2);
        set(24, 0, 8), set(32, undefined, 8), set(48, undefined, 8);  // base, free space, driver block
        if (!root.is_group) throw std::invalid_argument("lamina::io::hdf5::write: the root must be a group");
        const std::uint64_t header = write_object(root, 0);
        // The root's symbol table entry: name offset 0, its header, cache type 1 (B-tree and heap in the scratch pad).
        set(56, 0, 8), set(64, header, 8), set(72, 1, 4), set(80, root_btree_, 8), set(88, root_heap_, 8);
        set(40, out_.size(), 8);  // end of file
        return std::move(out_);
    }

private:
    static constexpr std::uint64_t internal_k = 16;

    static std::uint64_t largest_group(const Object& o) {
        std::uint64_t n = o.is_group ? o.members.size() : 0;
        for (const Object& m : o.members) n = std::max(n, largest_group(m));
        return n;
    }

    void set(std::size_t at, std::uint64_t v, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) out_[at + i] = std::byte(static_cast<unsigned char>((v >> (8 * i)) & 0xFF));
    }
    std::size_t grow(std::size_t n) {  // n zero bytes at the end, 8-aligned; returns where they start
        out_.resize((out_.size() + 7) / 8 * 8);
        const std::size_t at = out_.size();
        out_.resize(at + n);
        return at;
    }

    struct Msg {
        std::uint16_t type;
        std::vector<std::byte> data;
        std::uint8_t flags = 0;
    };
    static void put(std::vector<std::byte>& b, std::uint64_t v, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) b.push_back(std::byte(static_cast<unsigned char>((v >> (8 * i)) & 0xFF)));
    }

    // A version-1 object header of `messages`, each padded to 8 bytes; `patch` receives where
    // each message's data starts.
    std::size_t write_header(std::vector<Msg>& messages, std::vector<std::size_t>* data_at = nullptr) {
        std::uint64_t size = 0;
        for (Msg& m : messages) {
            m.data.resize((m.data.size() + 7) / 8 * 8);
            size += 8 + m.data.size();
        }
        const std::size_t at = grow(16 + size);
        set(at, 1, 1), set(at + 2, messages.size(), 2), set(at + 4, 1, 4), set(at + 8, size, 4);
        std::size_t p = at + 16;
        for (const Msg& m : messages) {
            set(p, m.type, 2), set(p + 2, m.data.size(), 2), set(p + 4, m.flags, 1);
            if (data_at) data_at->push_back(p + 8);
            std::copy(m.data.begin(), m.data.end(), out_.begin() + static_cast<std::ptrdiff_t>(p + 8));
            p += 8 + m.data.size();
        }
        return at;
    }

    std::uint64_t write_object(const Object& o, int depth) {
        if (depth > 64) throw std::invalid_argument("lamina::io::hdf5::write: groups nested more than 64 deep");
        if (!o.attributes.empty())
            throw std::invalid_argument("lamina::io::hdf5::write: " + o.path + ": attributes are not written");
        return o.is_group ? write_group(o, depth) : write_dataset(o);
    }

    std::uint64_t write_group(const Object& g, int depth) {
        std::vector<const Object*> members;
        for (const Object& m : g.members) {
            if (m.name.empty() || m.name.find('/') != std::string::npos || m.name.find('\0') != std::string::npos)
                throw std::invalid_argument("lamina::io::hdf5::write: member name '" + m.name + "' of " + g.path);
            members.push_back(&m);
        }
        std::sort(members.begin(), members.end(), [](const Object* a, const Object* b) { return a->name < b->name; });
        for (std::size_t i = 1; i < members.size(); ++i)
            if (members[i - 1]->name == members[i]->name)
                throw std::invalid_argument("lamina::io::hdf5::write: two members named '" + members[i]->name + "'");
        // The local heap's data: "" at 0, then each name NUL-terminated, 8-aligned.
        std::vector<std::byte> names(8, std::byte{0});
        std::vector<std::uint64_t> offsets;
        for (const Object* m : members) {
            offsets.push_back(names.size());
            for (const char c : m->name) names.push_back(std::byte(static_cast<unsigned char>(c)));
            names.resize((names.size() + 1 + 7) / 8 * 8, std::byte{0});
        }
        std::vector<Msg> messages(1);
        messages[0].type = 0x11;  // symbol table: B-tree address, heap address (patched below)
        messages[0].data.resize(16);
        std::vector<std::size_t> data_at;
        const std::size_t header = write_header(messages, &data_at);
        const std::size_t heap = grow(32);
        const std::size_t heap_data = grow(names.size());
        set(heap, 0x50414548, 4), set(heap + 8, names.size(), 8), set(heap + 16, 1, 8), set(heap + 24, heap_data, 8);
        std::copy(names.begin(), names.end(), out_.begin() + static_cast<std::ptrdiff_t>(heap_data));
        // One B-tree node at level 0, full size (2K children, 2K + 1 keys), one child unless empty.
        const std::size_t btree = grow(8 + 16 + 2 * internal_k * 8 + (2 * internal_k + 1) * 8);
        set(btree, 0x45455254, 4), set(btree + 6, members.empty() ? 0 : 1, 2), set(btree + 8, undefined, 8);
        set(btree + 16, undefined, 8), set(btree + 24, 0, 8);
        std::size_t snod = 0;
        if (!members.empty()) {
            snod = grow(8 + 2 * leaf_k_ * 40);
            set(snod, 0x444f4e53, 4), set(snod + 4, 1, 1), set(snod + 6, members.size(), 2);
            set(btree + 32, snod, 8), set(btree + 40, offsets.back(), 8);
        }
        set(data_at[0], btree, 8), set(data_at[0] + 8, heap, 8);
        if (depth == 0) root_btree_ = btree, root_heap_ = heap;
        for (std::size_t i = 0; i < members.size(); ++i) {
            const std::uint64_t child = write_object(*members[i], depth + 1);
            const std::size_t e = snod + 8 + i * 40;
            set(e, offsets[i], 8), set(e + 8, child, 8);  // cache type 0, scratch pad unused
        }
        return header;
    }

    std::uint64_t write_dataset(const Object& d) {
        const Array& a = d.data;
        const std::string where = "lamina::io::hdf5::write: " + d.path + ": ";
        if (a.kind == Kind::string || a.null) throw std::invalid_argument(where + "only numeric arrays are written");
        if (a.item_size == 0 || a.bytes.size() != a.element_count() * a.item_size)
            throw std::invalid_argument(where + "the bytes do not match the shape");
        std::vector<Msg> messages(4);
        // Dataspace, version 1: rank, no maximum dimensions.
        messages[0].type = 0x01;
        put(messages[0].data, 1, 1), put(messages[0].data, a.shape.size(), 1), put(messages[0].data, 0, 6);
        for (const std::uint64_t n : a.shape) put(messages[0].data, n, 8);
        // Datatype, version 1, constant.
        Msg& t = messages[1];
        t.type = 0x03;
        t.flags = 1;
        if (a.kind == Kind::floating) {
            const bool f32 = a.item_size == 4;
            if (!f32 && a.item_size != 8) throw std::invalid_argument(where + "floats are 4 or 8 bytes");
            // Class 1, little-endian, implied mantissa bit, sign at bit 31 or 63.
            put(t.data, 0x11, 1), put(t.data, 0x20, 1), put(t.data, f32 ? 31 : 63, 1), put(t.data, 0, 1);
            put(t.data, a.item_size, 4), put(t.data, 0, 2), put(t.data, f32 ? 32 : 64, 2);
            put(t.data, f32 ? 23 : 52, 1), put(t.data, f32 ? 8 : 11, 1), put(t.data, 0, 1),
                put(t.data, f32 ? 23 : 52, 1);
            put(t.data, f32 ? 127 : 1023, 4);
        } else {
            put(t.data, 0x10, 1), put(t.data, a.is_signed ? 0x08 : 0, 1), put(t.data, 0, 2);
            put(t.data, a.item_size, 4), put(t.data, 0, 2), put(t.data, 8 * a.item_size, 2);
        }
        // Fill value, version 2: allocated early, written if set, none defined.
        messages[2].type = 0x05;
        messages[2].flags = 1;
        put(messages[2].data, 2, 1), put(messages[2].data, 1, 1), put(messages[2].data, 2, 1),
            put(messages[2].data, 0, 1);
        // Layout, version 3, contiguous: address (patched), size.
        messages[3].type = 0x08;
        put(messages[3].data, 3, 1), put(messages[3].data, 1, 1), put(messages[3].data, undefined, 8);
        put(messages[3].data, a.bytes.size(), 8);
        std::vector<std::size_t> data_at;
        const std::size_t header = write_header(messages, &data_at);
        if (!a.bytes.empty()) {
            const std::size_t data = grow(a.bytes.size());
            std::copy(a.bytes.begin(), a.bytes.end(), out_.begin() + static_cast<std::ptrdiff_t>(data));
            set(data_at[3] + 2, data, 8);
        }
        return header;
    }

    std::vector<std::byte> out_;
    std::uint64_t leaf_k_ = 4;
    std::uint64_t root_btree_ = 0;
    std::uint64_t root_heap_ = 0;
};

}  // namespace detail

/// The bytes of an HDF5 file holding the tree under `root` (a group): groups and numeric
/// datasets (`Object::data` with kind integer or floating, `bytes` little-endian row-major),
/// in the form described at the top of this header, which h5py and io/hdf5.hpp read.
/// `path` of each object is used only in error messages.
/// \throws std::invalid_argument for attributes, strings, a null dataspace, bytes that do not
///         match a dataset's shape, a member name that is empty or holds '/', or two members
///         of one group with the same name.
[[nodiscard]] inline std::vector<std::byte> write(const Object& root) { return detail::Writer{}.write(root); }

/// A dataset `name` of float32 or float64 (T) values of `shape`, for `write`.
template <class T>
[[nodiscard]] Object dataset(std::string name, std::vector<std::uint64_t> shape, const T* values, std::size_t count) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>);
    static_assert(std::endian::native == std::endian::little, "the values are copied as they lie in memory");
    Object o;
    o.name = std::move(name);
    o.path = o.name;
    o.data.kind = std::is_same_v<T, std::int64_t> ? Kind::integer : Kind::floating;
    o.data.is_signed = true;
    o.data.item_size = sizeof(T);
    o.data.shape = std::move(shape);
    o.data.bytes.resize(count * sizeof(T));
    if (count != 0) std::memcpy(o.data.bytes.data(), values, count * sizeof(T));
    return o;
}

/// A group `name` of `members`, for `write`.
[[nodiscard]] inline Object group(std::string name, std::vector<Object> members = {}) {
    Object o;
    o.name = std::move(name);
    o.path = o.name;
    o.is_group = true;
    o.members = std::move(members);
    return o;
}

}  // namespace lamina::io::hdf5
