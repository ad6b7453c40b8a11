// SPDX-License-Identifier: MIT
// lamina: a bounded, read-only reader of the HDF5 files h5py writes by default (what Keras saves).
#pragma once

// What it reads (HDF5 file format specification 3.0, the parts h5py's default "earliest"
// format uses):
// - superblock versions 0 and 1 (offsets and lengths of 2, 4 or 8 bytes), at byte 0, 512,
//   1024, ... (a user block before it);
// - version-1 object headers and their continuation blocks;
// - old-style groups: the symbol table message, version-1 B-tree group nodes of any depth,
//   the local heap of names, symbol table nodes;
// - datasets with compact or contiguous storage of little-endian integers (1, 2, 4, 8 bytes),
//   IEEE float32/float64, fixed-length strings and variable-length strings (global heap),
//   any rank, simple, scalar and null dataspaces;
// - chunked datasets as h5py writes them with `chunks=`, `compression="gzip"` and
//   `shuffle=True` (layout message versions 1 to 3, a version-1 B-tree of chunks of any
//   depth, the filter pipeline message): the deflate filter (1, through zlib: without
//   LAMINA_HAVE_ZLIB it is refused, naming it) and the shuffle filter (2), in any order,
//   with each chunk's filter mask; edge chunks that stick out of the dataset;
// - attributes (message versions 1 to 3) of the same types;
// - NIL, fill value, modification time, comment, reference count and B-tree "K" messages
//   are skipped.
// What it refuses, with an io_error naming the file, the object's path and the feature:
// superblock versions 2 and 3, version-2 object headers ("OHDR"), new-style groups (link and
// link-info messages), dense attribute storage, shared messages, soft and external links,
// chunked storage with other filters (named with their id: fletcher32 3, szip 4, lzf 32000,
// ...), a filter twice, layout version 4's chunk indexes, chunks not written (read as the
// fill value by HDF5), external storage, virtual datasets, big-endian,
// VAX and non-IEEE numbers, float16, compound, enum, array, reference, opaque and time types,
// variable-length sequences, and an object reached twice (a cycle or a shared object).
//
// Bounds: every read is checked against the file's bytes; every count is checked against the
// bytes that could hold it before anything is allocated, so memory stays within a small
// multiple of the file's size (a dataset holds at most 8 elements per byte of the file; the
// chunks of a dataset inflate to at most 1032 times the file's bytes, deflate's largest
// ratio, checked from their declared sizes before anything is inflated); every object,
// B-tree node, chunk and continuation block is read at most once (a second visit is an
// error), so a cyclic file ends in an io_error, not a loop.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(LAMINA_HAVE_ZLIB)
#include <zlib.h>
#endif

#include <lamina/core/error.hpp>
#include <lamina/io/file.hpp>

namespace lamina::io::hdf5 {

/// What the values of a dataset or attribute are.
enum class Kind {
    integer,   ///< little-endian two's complement (signed) or unsigned, 1 to 8 bytes
    floating,  ///< IEEE little-endian float32 or float64
    string,    ///< fixed-length or variable-length strings (read into `Array::strings`)
};

/// The values of one dataset or attribute, read whole.
struct Array {
    Kind kind = Kind::floating;
    std::size_t item_size = 0;         ///< bytes per element as stored (integers and floats)
    bool is_signed = false;            ///< integers only
    bool variable_length = false;      ///< strings only: variable-length (global heap)
    bool null = false;                 ///< a null dataspace (h5py.Empty): no shape, no values
    std::vector<std::uint64_t> shape;  ///< empty for a scalar
    std::vector<std::byte> bytes;      ///< integers and floats: the elements, little-endian, row-major
    std::vector<std::string> strings;  ///< strings: one per element, trailing NULs (or spaces) removed

    /// The number of elements (1 for a scalar, 0 for a null dataspace).
    [[nodiscard]] std::uint64_t element_count() const {
        if (null) return 0;
        std::uint64_t n = 1;
        for (const std::uint64_t d : shape) n *= d;
        return n;
    }

    /// The numeric elements converted to T (exact for float32 to float and float64 to double).
    /// \throws lamina::io_error if the array holds strings.
    template <class T>
    [[nodiscard]] std::vector<T> values() const {
        if (kind == Kind::string) throw io_error("lamina::io::hdf5::Array::values: the array holds strings");
        const std::size_t n = bytes.size() / item_size;
        std::vector<T> out(n);
        for (std::size_t i = 0; i < n; ++i) {
            const std::byte* p = bytes.data() + i * item_size;
            if (kind == Kind::floating) {
                if (item_size == 4) {
                    float f;
                    std::memcpy(&f, p, 4);
                    out[i] = static_cast<T>(f);
                } else {
                    double d;
                    std::memcpy(&d, p, 8);
                    out[i] = static_cast<T>(d);
                }
            } else {
                std::uint64_t u = 0;
                for (std::size_t b = 0; b < item_size; ++b)
                    u |= std::uint64_t(std::to_integer<unsigned>(p[b])) << (8 * b);
                if (is_signed && item_size < 8 && (u >> (8 * item_size - 1)) != 0)
                    u |= ~std::uint64_t{0} << (8 * item_size);
                out[i] = is_signed ? static_cast<T>(static_cast<std::int64_t>(u)) : static_cast<T>(u);
            }
        }
        return out;
    }
};

/// A group or a dataset, with its attributes; a group holds its members in the file's
/// (byte-wise name) order.
struct Object {
    std::string name;  ///< the last part of the path ("" for the root)
    std::string path;  ///< "/layers/dense/vars/0"; "/" for the root
    bool is_group = false;
    std::vector<Object> members;                            ///< groups only
    std::vector<std::pair<std::string, Array>> attributes;  ///< in the order stored
    Array data;                                             ///< datasets only

    /// The member called `name`, or nullptr.
    [[nodiscard]] const Object* member(std::string_view member_name) const {
        for (const Object& m : members)
            if (m.name == member_name) return &m;
        return nullptr;
    }
    /// The attribute called `name`, or nullptr.
    [[nodiscard]] const Array* attribute(std::string_view attribute_name) const {
        for (const auto& [n, a] : attributes)
            if (n == attribute_name) return &a;
        return nullptr;
    }
    /// The object at `relative` ("a/b/c", leading and doubled '/' ignored), or nullptr.
    [[nodiscard]] const Object* find(std::string_view relative) const {
        const Object* at = this;
        while (!relative.empty() && at) {
            const std::size_t slash = relative.find('/');
            const std::string_view part = relative.substr(0, slash);
            relative = slash == std::string_view::npos ? std::string_view{} : relative.substr(slash + 1);
            if (part.empty()) continue;
            at = at->member(part);
        }
        return at;
    }
};

namespace detail {

inline constexpr std::string_view reader = "lamina::io::hdf5";
inline constexpr std::uint64_t undefined = ~std::uint64_t{0};

/// The parser of one file: the bytes, the sizes from the superblock, the sets of places
/// already read.
class Parser {
public:
    Parser(std::span<const std::byte> bytes, std::string_view file) : bytes_(bytes), file_(file) {}

    Object parse() {
        read_superblock();
        Object root;
        root.path = "/";
        read_object(root_header_, root, 0);
        if (!root.is_group) fail("/", "the root object is not a group");
        return root;
    }

private:
    // A view of part of the file, every read checked against its end.
    struct View {
        const Parser* parser;
        std::uint64_t begin;  // absolute file offset
        std::uint64_t size;
        const std::string* path;
        const char* what;

        [[nodiscard]] std::uint64_t u(std::uint64_t at, std::size_t n) const {
            if (at > size || n > size - at)
                parser->fail(*path, what, ": truncated (needs ", n, " bytes at byte ", begin + at, ", ", what,
                             " ends at byte ", begin + size, ")");
            std::uint64_t v = 0;
            for (std::size_t i = 0; i < n; ++i)
                v |= std::uint64_t(std::to_integer<unsigned>(parser->bytes_[begin + at + i])) << (8 * i);
            return v;
        }
        [[nodiscard]] std::uint64_t offset(std::uint64_t at) const {
            const std::uint64_t v = u(at, parser->offset_size_);
            return v == parser->all_ones(parser->offset_size_) ? undefined : v;
        }
        [[nodiscard]] std::uint64_t length(std::uint64_t at) const { return u(at, parser->length_size_); }
        [[nodiscard]] std::span<const std::byte> span(std::uint64_t at, std::uint64_t n) const {
            if (at > size || n > size - at)
                parser->fail(*path, what, ": truncated (needs ", n, " bytes at byte ", begin + at, ", ", what,
                             " ends at byte ", begin + size, ")");
            return parser->bytes_.subspan(begin + at, n);
        }
        [[nodiscard]] View sub(std::uint64_t at, std::uint64_t n, const char* sub_what) const {
            (void)span(at, n);
            return View{parser, begin + at, n, path, sub_what};
        }
    };

    template <class... Parts>
    [[noreturn]] void fail(std::string_view path, const Parts&... parts) const {
        io::detail::raise_io_error(reader, file_, path, ": ", parts...);
    }

    [[nodiscard]] static std::uint64_t all_ones(std::size_t n) {
        return n >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;
    }

    // A view of `n` bytes at file address `address` (relative to the base address).
    [[nodiscard]] View at(std::uint64_t address, std::uint64_t n, const std::string& path, const char* what) const {
        if (address == undefined) fail(path, what, ": undefined address");
        const std::uint64_t size = bytes_.size();
        if (address > size - base_ || base_ + address > size || n > size - base_ - address)
            fail(path, what, ": ", n, " bytes at address ", address, " lie outside the file (", size, " bytes)");
        return View{this, base_ + address, n, &path, what};
    }
    // A view from `address` to the end of the file.
    [[nodiscard]] View rest(std::uint64_t address, const std::string& path, const char* what) const {
        if (address == undefined || base_ + address > bytes_.size() || address > bytes_.size())
            fail(path, what, ": address ", address, " lies outside the file (", bytes_.size(), " bytes)");
        return View{this, base_ + address, bytes_.size() - base_ - address, &path, what};
    }

    void read_superblock() {
        static constexpr unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
        std::uint64_t start = 0;
        for (;; start = start == 0 ? 512 : start * 2) {
            if (start + 8 > bytes_.size()) fail("/", "not an HDF5 file (no superblock signature)");
            if (std::memcmp(bytes_.data() + start, signature, 8) == 0) break;
        }
        static const std::string root_path = "/";
        View sb{this, start, bytes_.size() - start, &root_path, "superblock"};
        const auto version = sb.u(8, 1);
        if (version >= 2)
            fail("/", "superblock version ", version,
                 " (HDF5 1.8+ 'latest' format) is not supported; only versions 0 and 1 are read");
        offset_size_ = static_cast<std::size_t>(sb.u(13, 1));
        length_size_ = static_cast<std::size_t>(sb.u(14, 1));
        for (const std::size_t s : {offset_size_, length_size_})
            if (s != 2 && s != 4 && s != 8)
                fail("/", "superblock: offsets or lengths of ", s, " bytes are not supported");
        leaf_k_ = sb.u(16, 2);
        internal_k_ = sb.u(18, 2);
        if (leaf_k_ == 0 || internal_k_ == 0) fail("/", "superblock: a B-tree 'K' of 0");
        std::uint64_t p = version == 1 ? 28 : 24;
        // Addresses count from the superblock (a user block before it is not part of the
        // HDF5 data); h5py writes a base address of 0 with the superblock at byte 0.
        base_ = start;
        p += 4 * offset_size_;  // base, free space, end of file, driver block
        // The root group's symbol table entry: name offset, object header address, ...
        root_header_ = sb.offset(p + offset_size_);
    }

    // ---- object headers ----------------------------------------------------------------

    struct Message {
        std::uint16_t type;
        View data;
    };

    std::vector<Message> read_header(std::uint64_t address, const std::string& path) {
        if (address == undefined) fail(path, "object header: undefined address");
        if (!objects_.insert(address).second)
            fail(path, "object header at address ", address,
                 " is reached twice (a cycle or an object linked from two places), which is not read");
        const View head = at(address, 16, path, "object header");
        if (head.u(0, 4) == 0x5244484f)  // "OHDR"
            fail(path, "version 2 object header (HDF5 1.8+ 'latest' format) is not supported");
        const auto version = head.u(0, 1);
        if (version != 1) fail(path, "object header version ", version, " is not supported");
        const std::uint64_t count = head.u(2, 2);
        std::vector<Message> messages;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks{{address + 16, head.u(8, 4)}};
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            const View block = at(blocks[b].first, blocks[b].second, path, "object header messages");
            std::uint64_t p = 0;
            while (p + 8 <= block.size) {
                const auto type = static_cast<std::uint16_t>(block.u(p, 2));
                const std::uint64_t size = block.u(p + 2, 2);
                const auto flags = block.u(p + 4, 1);
                const View data = block.sub(p + 8, size, "header message");
                if ((flags & 0x02) != 0 && type != 0)
                    fail(path, "shared header message (type ", type, ") is not supported");
                if (type == 0x10) {  // continuation
                    const std::uint64_t where = data.offset(0);
                    const std::uint64_t length = data.length(offset_size_);
                    if (!continuations_.insert(where).second)
                        fail(path, "continuation block at address ", where, " is reached twice");
                    blocks.emplace_back(where, length);
                } else if (type != 0) {
                    messages.push_back({type, data});
                }
                p += 8 + size;
            }
        }
        (void)count;  // h5py's count includes NIL and continuation messages; every block is read whole
        return messages;
    }

    void read_object(std::uint64_t address, Object& object, int depth) {
        if (depth > 64) fail(object.path, "groups nested more than 64 deep");
        const std::vector<Message> messages = read_header(address, object.path);
        const Message* symbol_table = nullptr;
        const Message* dataspace = nullptr;
        const Message* datatype = nullptr;
        const Message* layout = nullptr;
        const Message* filters = nullptr;
        for (const Message& m : messages) {
            switch (m.type) {
                case 0x01: dataspace = &m; break;
                case 0x03: datatype = &m; break;
                case 0x08: layout = &m; break;
                case 0x0B: filters = &m; break;
                case 0x11: symbol_table = &m; break;
                case 0x02:
                case 0x06:
                    fail(object.path, "new-style group (link messages, HDF5 1.8+ 'latest' format) is not supported");
                case 0x07: fail(object.path, "external data storage is not supported");
                case 0x15:
                    if (m.data.size >= 2 + offset_size_ &&
                        m.data.offset(2 + ((m.data.u(1, 1) & 1) ? 2 : 0)) != undefined)
                        fail(object.path, "dense attribute storage (attribute info message) is not supported");
                    break;
                default: break;  // NIL, fill values, times, comments, reference counts, K values
            }
        }
        for (const Message& m : messages)
            if (m.type == 0x0C) object.attributes.push_back(read_attribute(m.data, object.path));
        if (symbol_table) {
            object.is_group = true;
            read_group(symbol_table->data, object, depth);
        } else if (layout) {
            if (!dataspace || !datatype) fail(object.path, "dataset without a dataspace or datatype message");
            read_dataset(*dataspace, *datatype, *layout, filters, object);
        } else if (datatype) {
            fail(object.path, "named (committed) datatype is not supported");
        } else {
            fail(object.path, "object is neither a group (symbol table message) nor a dataset (layout message)");
        }
    }

    // ---- groups -----------------------------------------------------------------------

    void read_group(const View& message, Object& group, int depth) {
        const std::uint64_t btree = message.offset(0);
        const std::uint64_t heap = message.offset(offset_size_);
        // The local heap: "HEAP", version 0, data size, free list offset, data address.
        const View h = at(heap, 8 + 2 * length_size_ + offset_size_, group.path, "local heap");
        if (h.u(0, 4) != 0x50414548) fail(group.path, "local heap: bad signature");
        if (h.u(4, 1) != 0) fail(group.path, "local heap version ", h.u(4, 1), " is not supported");
        const std::uint64_t heap_size = h.length(8);
        const View names = at(h.offset(8 + 2 * length_size_), heap_size, group.path, "local heap data");
        std::vector<std::pair<std::string, std::uint64_t>> entries;
        read_btree(btree, names, group.path, entries, -1);
        std::string previous;
        for (auto& [name, address] : entries) {
            Object member;
            member.name = std::move(name);
            member.path = (group.path == "/" ? "/" : group.path + "/") + member.name;
            if (!group.members.empty() && member.name <= previous)
                fail(group.path, "group members out of order or repeated ('", member.name, "')");
            previous = member.name;
            read_object(address, member, depth + 1);
            group.members.push_back(std::move(member));
        }
    }

    void read_btree(std::uint64_t address, const View& names, const std::string& path,
                    std::vector<std::pair<std::string, std::uint64_t>>& entries, long expected_level) {
        if (!nodes_.insert(address).second) fail(path, "B-tree node at address ", address, " is reached twice");
        const View head = at(address, 8 + 2 * offset_size_, path, "B-tree node");
        if (head.u(0, 4) != 0x45455254) fail(path, "B-tree node: bad signature");  // "TREE"
        if (head.u(4, 1) != 0) fail(path, "B-tree node of type ", head.u(4, 1), " where a group node was expected");
        const auto level = static_cast<long>(head.u(5, 1));
        if (expected_level >= 0 && level != expected_level)
            fail(path, "B-tree node at level ", level, " where level ", expected_level, " was expected");
        const std::uint64_t used = head.u(6, 2);
        if (used > 2 * (level == 0 ? leaf_k_ : internal_k_) && used > 2 * std::max(leaf_k_, internal_k_))
            fail(path, "B-tree node with ", used, " entries, more than 2K");
        const std::uint64_t step = length_size_ + offset_size_;
        const View body = at(address + 8 + 2 * offset_size_, used * step + length_size_, path, "B-tree node");
        for (std::uint64_t i = 0; i < used; ++i) {
            const std::uint64_t child = body.offset(i * step + length_size_);
            if (level > 0) read_btree(child, names, path, entries, level - 1);
            else read_symbol_node(child, names, path, entries);
        }
    }

    void read_symbol_node(std::uint64_t address, const View& names, const std::string& path,
                          std::vector<std::pair<std::string, std::uint64_t>>& entries) {
        if (!nodes_.insert(address).second) fail(path, "symbol table node at address ", address, " is reached twice");
        const View head = at(address, 8, path, "symbol table node");
        if (head.u(0, 4) != 0x444f4e53) fail(path, "symbol table node: bad signature");  // "SNOD"
        if (head.u(4, 1) != 1) fail(path, "symbol table node version ", head.u(4, 1), " is not supported");
        const std::uint64_t count = head.u(6, 2);
        const std::uint64_t entry_size = 2 * offset_size_ + 24;
        const View body = at(address + 8, count * entry_size, path, "symbol table node");
        for (std::uint64_t i = 0; i < count; ++i) {
            const std::uint64_t e = i * entry_size;
            const std::uint64_t name_offset = body.offset(e);
            const std::uint64_t header = body.offset(e + offset_size_);
            const std::uint64_t cache = body.u(e + 2 * offset_size_, 4);
            std::string name = heap_string(names, name_offset, path);
            if (cache == 2) fail(path, "soft link '", name, "' is not supported");
            if (name.empty() || name.find('/') != std::string::npos)
                fail(path, "member name '", name, "' is empty or holds '/'");
            entries.emplace_back(std::move(name), header);
        }
    }

    std::string heap_string(const View& heap, std::uint64_t offset, const std::string& path) const {
        if (offset == undefined || offset >= heap.size)
            fail(path, "name offset ", offset, " lies outside the local heap");
        const std::span<const std::byte> s = heap.span(offset, heap.size - offset);
        const auto end = std::find(s.begin(), s.end(), std::byte{0});
        if (end == s.end()) fail(path, "name at heap offset ", offset, " is not NUL-terminated");
        return std::string(reinterpret_cast<const char*>(s.data()), static_cast<std::size_t>(end - s.begin()));
    }

    // ---- types, spaces, values --------------------------------------------------------

    struct Type {
        Kind kind;
        std::size_t size;
        bool is_signed = false;
        bool variable_length = false;
        unsigned padding = 0;  // strings: 0 NUL-terminated, 1 NUL-padded, 2 space-padded
    };

    Type read_type(const View& m, const std::string& path) const {
        const auto b0 = m.u(0, 1);
        const auto cls = b0 & 0x0F;
        const auto version = b0 >> 4;
        const std::uint64_t bits = m.u(1, 3);
        const std::uint64_t size = m.u(4, 4);
        if (version < 1 || version > 3) fail(path, "datatype message version ", version, " is not supported");
        switch (cls) {
            case 0: {
                if ((bits & 1) != 0) fail(path, "big-endian integers are not supported");
                if (size != 1 && size != 2 && size != 4 && size != 8)
                    fail(path, "integers of ", size, " bytes are not supported");
                return {Kind::integer, static_cast<std::size_t>(size), (bits & 8) != 0};
            }
            case 1: {
                if ((bits & 0x41) != 0) fail(path, "big-endian or VAX floating point is not supported");
                const auto precision = m.u(10, 2);
                const auto exponent = m.u(13, 1);
                const auto mantissa = m.u(15, 1);
                const bool ieee32 = size == 4 && precision == 32 && exponent == 8 && mantissa == 23;
                const bool ieee64 = size == 8 && precision == 64 && exponent == 11 && mantissa == 52;
                if (!ieee32 && !ieee64)
                    fail(path, "floating point of ", size, " bytes (precision ", precision, ", exponent ", exponent,
                         " bits, mantissa ", mantissa,
                         " bits) is not supported; only IEEE float32 and float64 are read");
                return {Kind::floating, static_cast<std::size_t>(size)};
            }
            case 3:
                if (size == 0) fail(path, "fixed-length strings of 0 bytes");
                return {Kind::string, static_cast<std::size_t>(size), false, false, static_cast<unsigned>(bits & 0x0F)};
            case 9:
                if ((bits & 0x0F) != 1) fail(path, "variable-length sequences are not supported (only strings)");
                return {Kind::string, 4 + offset_size_ + 4, false, true, 0};
            default: {
                static constexpr const char* names[] = {"integer",  "float",           "time",     "string",
                                                        "bitfield", "opaque",          "compound", "reference",
                                                        "enum",     "variable-length", "array"};
                fail(path, cls < 11 ? names[cls] : "unknown", " datatype (class ", cls, ") is not supported");
            }
        }
    }

    struct Space {
        bool null = false;
        std::vector<std::uint64_t> shape;
        std::uint64_t elements = 1;
    };

    Space read_space(const View& m, const std::string& path) const {
        const auto version = m.u(0, 1);
        const std::uint64_t rank = m.u(1, 1);
        const auto flags = m.u(2, 1);
        Space s;
        std::uint64_t p = 0;
        if (version == 1) {
            p = 8;
        } else if (version == 2) {
            const auto type = m.u(3, 1);
            if (type == 2) {
                s.null = true;
                s.elements = 0;
                return s;
            }
            if (type > 2) fail(path, "dataspace type ", type, " is not supported");
            p = 4;
        } else {
            fail(path, "dataspace message version ", version, " is not supported");
        }
        if (rank > 32) fail(path, "dataspace of rank ", rank, ", more than 32");
        (void)flags;  // maximum dimensions (if present) follow and are not needed
        for (std::uint64_t i = 0; i < rank; ++i) {
            const std::uint64_t d = m.length(p + i * length_size_);
            s.shape.push_back(d);
            if (d != 0 && s.elements > bytes_.size() * 8 / d)
                fail(path, "dataspace of more elements than the file could hold");
            s.elements *= d;
        }
        return s;
    }

    // The elements of `space` of `type` from `raw` (its size already checked) into `out`.
    void fill(Array& out, const Type& type, const Space& space, std::span<const std::byte> raw,
              const std::string& path) {
        out.kind = type.kind;
        out.item_size = type.variable_length ? 0 : type.size;
        out.is_signed = type.is_signed;
        out.variable_length = type.variable_length;
        out.null = space.null;
        out.shape = space.shape;
        const std::uint64_t n = space.elements;
        if (type.kind != Kind::string) {
            out.bytes.assign(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(n * type.size));
            return;
        }
        out.strings.reserve(static_cast<std::size_t>(n));
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::byte* p = raw.data() + i * type.size;
            if (!type.variable_length) {
                std::size_t len = type.size;
                const char pad = type.padding == 2 ? ' ' : '\0';
                if (type.padding == 0) {
                    const std::byte* nul = std::find(p, p + len, std::byte{0});
                    len = static_cast<std::size_t>(nul - p);
                } else {
                    while (len > 0 && static_cast<char>(p[len - 1]) == pad) --len;
                }
                out.strings.emplace_back(reinterpret_cast<const char*>(p), len);
            } else {
                std::uint64_t length = 0, collection = 0, index = 0;
                for (std::size_t b = 0; b < 4; ++b) length |= std::uint64_t(std::to_integer<unsigned>(p[b])) << (8 * b);
                for (std::size_t b = 0; b < offset_size_; ++b)
                    collection |= std::uint64_t(std::to_integer<unsigned>(p[4 + b])) << (8 * b);
                for (std::size_t b = 0; b < 4; ++b)
                    index |= std::uint64_t(std::to_integer<unsigned>(p[4 + offset_size_ + b])) << (8 * b);
                if (collection == all_ones(offset_size_) || (collection == 0 && length == 0)) {
                    out.strings.emplace_back();  // a NULL string reads as empty
                    continue;
                }
                const std::span<const std::byte> object = global_object(collection, index, path);
                if (length > object.size())
                    fail(path, "variable-length string of ", length, " bytes in a heap object of ", object.size());
                // Many elements may name one heap object: bound what they copy by the file's size.
                if (length > string_budget_)
                    fail(path, "variable-length strings add up to more than 4 times the file's size");
                string_budget_ -= length;
                std::string s(reinterpret_cast<const char*>(object.data()), static_cast<std::size_t>(length));
                while (!s.empty() && s.back() == '\0') s.pop_back();
                out.strings.push_back(std::move(s));
            }
        }
    }

    std::span<const std::byte> global_object(std::uint64_t collection, std::uint64_t index, const std::string& path) {
        auto found = heaps_.find(collection);
        if (found == heaps_.end()) {
            const View head = at(collection, 8 + length_size_, path, "global heap");
            if (head.u(0, 4) != 0x4c4f4347) fail(path, "global heap: bad signature");  // "GCOL"
            if (head.u(4, 1) != 1) fail(path, "global heap version ", head.u(4, 1), " is not supported");
            const std::uint64_t size = head.length(8);
            const View heap = at(collection, size, path, "global heap");
            std::map<std::uint64_t, std::span<const std::byte>> objects;
            std::uint64_t p = 8 + length_size_;
            while (p + 8 + length_size_ <= heap.size) {
                const std::uint64_t id = heap.u(p, 2);
                if (id == 0) break;  // free space to the end
                const std::uint64_t n = heap.length(p + 8);
                objects[id] = heap.span(p + 8 + length_size_, n);
                const std::uint64_t padded = (n + 7) / 8 * 8;
                if (padded < n) fail(path, "global heap object size overflows");
                p += 8 + length_size_ + padded;
            }
            found = heaps_.emplace(collection, std::move(objects)).first;
        }
        const auto object = found->second.find(index);
        if (object == found->second.end())
            fail(path, "global heap object ", index, " not found in the collection at address ", collection);
        return object->second;
    }

    std::pair<std::string, Array> read_attribute(const View& m, const std::string& path) {
        const auto version = m.u(0, 1);
        if (version < 1 || version > 3) fail(path, "attribute message version ", version, " is not supported");
        if (version >= 2 && (m.u(1, 1) & 3) != 0)
            fail(path, "attribute with a shared datatype or dataspace is not supported");
        const std::uint64_t name_size = m.u(2, 2);
        const std::uint64_t type_size = m.u(4, 2);
        const std::uint64_t space_size = m.u(6, 2);
        const auto pad = [&](std::uint64_t n) { return version == 1 ? (n + 7) / 8 * 8 : n; };
        std::uint64_t p = version == 3 ? 9 : 8;
        const std::span<const std::byte> raw_name = m.span(p, name_size);
        std::string name(reinterpret_cast<const char*>(raw_name.data()), raw_name.size());
        while (!name.empty() && name.back() == '\0') name.pop_back();
        p += pad(name_size);
        const std::string where = path + " attribute '" + name + "'";
        const Type type = read_type(m.sub(p, type_size, "attribute datatype"), where);
        p += pad(type_size);
        const Space space = read_space(m.sub(p, space_size, "attribute dataspace"), where);
        p += pad(space_size);
        const std::uint64_t needed = space.elements * type.size;
        if (space.elements != 0 && needed / space.elements != type.size) fail(where, "size overflows");
        std::pair<std::string, Array> out{name, Array{}};
        fill(out.second, type, space, m.span(p, needed), where);
        return out;
    }

    void read_dataset(const Message& space_message, const Message& type_message, const Message& layout,
                      const Message* filters, Object& object) {
        const std::string& path = object.path;
        const Type type = read_type(type_message.data, path);
        const Space space = read_space(space_message.data, path);
        const std::uint64_t needed = space.elements * type.size;
        if (space.elements != 0 && needed / space.elements != type.size) fail(path, "size overflows");
        const View& l = layout.data;
        const auto version = l.u(0, 1);
        std::uint64_t cls = 0;
        std::span<const std::byte> raw;
        if (version == 3 || version == 4) {
            cls = l.u(1, 1);
            if (cls == 0) {
                const std::uint64_t n = l.u(2, 2);
                if (n < needed) fail(path, "compact data of ", n, " bytes for ", needed, " bytes of elements");
                raw = l.span(4, needed);
            } else if (cls == 1) {
                const std::uint64_t address = l.offset(2);
                const std::uint64_t n = l.length(2 + offset_size_);
                if (n < needed) fail(path, "contiguous data of ", n, " bytes for ", needed, " bytes of elements");
                if (needed != 0) raw = at(address, needed, path, "dataset data").span(0, needed);
            }
        } else if (version == 1 || version == 2) {
            cls = l.u(2, 1);
            const std::uint64_t rank = l.u(1, 1);
            if (cls == 0) {
                const std::uint64_t n = l.u(8 + rank * 4, 4);
                if (n < needed) fail(path, "compact data of ", n, " bytes for ", needed, " bytes of elements");
                raw = l.span(12 + rank * 4, needed);
            } else if (cls == 1) {
                const std::uint64_t address = l.offset(8);
                if (needed != 0) raw = at(address, needed, path, "dataset data").span(0, needed);
            }
        } else {
            fail(path, "data layout message version ", version, " is not supported");
        }
        std::vector<std::byte> chunked;
        if (cls == 2) {
            chunked = read_chunked(l, version, type, space, needed, filters, path);
            raw = chunked;
        }
        if (cls > 2) fail(path, "storage layout class ", cls, " (virtual dataset) is not supported");
        object.is_group = false;
        fill(object.data, type, space, raw, path);
    }

    // ---- chunked storage -------------------------------------------------------------

    struct Filter {
        std::uint64_t id;
        std::uint64_t flags;
        std::vector<std::uint64_t> values;  // client data
    };

    static std::string filter_text(std::uint64_t id) {
        std::string out = "filter " + std::to_string(id);
        if (id == 1) out += " (deflate)";
        if (id == 2) out += " (shuffle)";
        if (id == 3) out += " (fletcher32)";
        if (id == 4) out += " (szip)";
        if (id == 5) out += " (nbit)";
        if (id == 6) out += " (scaleoffset)";
        return out;
    }

    // The filter pipeline message (versions 1 and 2), at most 32 filters as HDF5 allows.
    std::vector<Filter> read_filters(const View& m, const std::string& path) const {
        const auto version = m.u(0, 1);
        if (version != 1 && version != 2) fail(path, "filter pipeline message version ", version, " is not supported");
        const std::uint64_t count = m.u(1, 1);
        if (count > 32) fail(path, "filter pipeline of ", count, " filters, more than 32");
        std::vector<Filter> out;
        std::uint64_t p = version == 1 ? 8 : 2;
        for (std::uint64_t i = 0; i < count; ++i) {
            Filter f{m.u(p, 2), 0, {}};
            std::uint64_t name_length = 0;
            if (version == 1 || f.id >= 256) {
                name_length = m.u(p + 2, 2);
                p += 4;
            } else {
                p += 2;
            }
            f.flags = m.u(p, 2);
            const std::uint64_t values = m.u(p + 2, 2);
            p += 4 + (version == 1 ? (name_length + 7) / 8 * 8 : name_length);
            (void)m.span(p, values * 4);  // bounds the count by the message's bytes
            for (std::uint64_t v = 0; v < values; ++v) f.values.push_back(m.u(p + 4 * v, 4));
            p += values * 4;
            if (version == 1 && values % 2 == 1) p += 4;
            out.push_back(std::move(f));
        }
        return out;
    }

    // The elements of a chunked dataset (layout versions 1 to 3: a version-1 B-tree of
    // chunks), `needed` bytes, through the deflate and shuffle filters. Before anything is
    // allocated: every chunk is found in the B-tree and checked to lie on the chunk grid
    // inside the dataset, once; the chunks must cover the dataset (unwritten chunks, which
    // would read as the fill value, are refused); and each chunk's size must be what its
    // stored bytes could hold: the same size unfiltered, at most 1032 times (deflate's
    // largest ratio) through deflate.
    std::vector<std::byte> read_chunked(const View& l, std::uint64_t version, const Type& type, const Space& space,
                                        std::uint64_t needed, const Message* filter_message, const std::string& path) {
        std::vector<Filter> filters;
        if (filter_message) filters = read_filters(filter_message->data, path);
        std::uint64_t deflate = 32;  // the deflate filter's place in the pipeline (32: none)
        std::uint64_t seen_ids = 0;
        for (std::size_t k = 0; k < filters.size(); ++k) {
            const Filter& f = filters[k];
            if ((f.id == 1 || f.id == 2) && ((seen_ids >> f.id) & 1) != 0)
                fail(path, "chunked storage with ", filter_text(f.id), " twice in its pipeline is not supported");
            if (f.id == 1 || f.id == 2) seen_ids |= std::uint64_t{1} << f.id;
            if (f.id == 1) {
                deflate = k;
#if !defined(LAMINA_HAVE_ZLIB)
                fail(path, "chunked storage with filter 1 (deflate) needs zlib, and lamina was built without it "
                           "(LAMINA_HAVE_ZLIB); save the file without compression, or rebuild with zlib");
#endif
            } else if (f.id != 2) {
                fail(path, "chunked storage with ", filter_text(f.id),
                     " is not supported; only filters 1 (deflate) and 2 (shuffle) are read");
            }
        }
        if (version == 4) fail(path, "chunked storage of layout version 4 (HDF5 1.10+ chunk indexes) is not supported");
        std::uint64_t dimensionality = 0, btree = undefined, p = 0;
        if (version == 3) {
            dimensionality = l.u(2, 1);
            btree = l.offset(3);
            p = 3 + offset_size_;
        } else {
            dimensionality = l.u(1, 1);
            btree = l.offset(8);
            p = 8 + offset_size_;
        }
        const std::size_t rank = space.shape.size();
        if (space.null || dimensionality != rank + 1 || rank == 0)
            fail(path, "chunked storage of ", dimensionality, " dimensions for a dataspace of rank ", rank);
        std::vector<std::uint64_t> chunk(rank);
        std::uint64_t chunk_bytes = type.size;
        for (std::size_t d = 0; d < rank; ++d) {
            chunk[d] = l.u(p + 4 * d, 4);
            if (chunk[d] == 0) fail(path, "a chunk dimension of 0");
            if (chunk_bytes > (std::uint64_t{1} << 32) / chunk[d])
                fail(path, "chunks of more than 4 GiB (HDF5's limit)");
            chunk_bytes *= chunk[d];
        }
        const std::uint64_t element_size = l.u(p + 4 * rank, 4);
        if (element_size != type.size)
            fail(path, "chunked storage of ", element_size, "-byte elements for a datatype of ", type.size, " bytes");
        if (needed == 0) return {};
        // The chunks the dataset needs, counted before any is read.
        std::uint64_t expected = 1;
        std::vector<std::uint64_t> grid(rank);
        for (std::size_t d = 0; d < rank; ++d) {
            grid[d] = (space.shape[d] + chunk[d] - 1) / chunk[d];
            if (expected > bytes_.size() / grid[d])
                fail(path, "chunked storage of more chunks than the file could index");
            expected *= grid[d];
        }
        // What the chunks inflate to in all, bounded by what the file's bytes could hold: as
        // many bytes unfiltered, 1032 times as many (deflate's largest ratio, plus a block's
        // worth a chunk) through deflate. This bounds both the memory and the work.
        const std::uint64_t file = bytes_.size();
        const std::uint64_t limit = deflate < 32 ? 1032 * (file + expected) : file;
        if (chunk_bytes > limit / expected)
            fail(path, "chunked storage of ", expected, " chunks of ", chunk_bytes,
                 " bytes: more than the file's bytes could hold", deflate < 32 ? " inflated" : "");
        if (btree == undefined) fail(path, "chunked storage with no chunks written (fill values are not read)");
        std::vector<Chunk> chunks;
        const ChunkGrid g{rank, chunk, grid, space.shape, type.size, chunk_bytes, deflate, expected};
        std::set<std::uint64_t> seen, addresses;
        read_chunk_btree(btree, g, path, chunks, seen, addresses, -1);
        if (chunks.size() != expected)
            fail(path, "chunked storage holds ", chunks.size(), " of the dataset's ", expected,
                 " chunks (unwritten chunks, the fill value, are not read)");
        for (const Chunk& c : chunks) (void)at(c.address, c.size, path, "chunk");
        std::vector<std::byte> out(static_cast<std::size_t>(needed));
        for (const Chunk& c : chunks) {
            std::span<const std::byte> data = at(c.address, c.size, path, "chunk").span(0, c.size);
            // The filters in reverse order, skipping those the chunk's mask says were not
            // applied; each step writes a buffer of its own (at most chunk_bytes + 1).
            std::vector<std::byte> inflated, unshuffled;
            for (std::size_t k = filters.size(); k-- > 0;) {
                if (((c.mask >> k) & 1) != 0) continue;
                if (filters[k].id == 1) {
                    data = inflate_chunk(data, chunk_bytes, inflated, path);
                } else {
                    const std::uint64_t width = filters[k].values.empty() ? type.size : filters[k].values[0];
                    data = unshuffle(data, width, unshuffled, path);
                }
            }
            if (data.size() != chunk_bytes)
                fail(path, "a chunk of ", data.size(), " bytes where its shape needs ", chunk_bytes);
            place(data, c, g, out);
        }
        return out;
    }

    struct Chunk {
        std::uint64_t address;
        std::uint64_t size;  // stored (filtered) bytes
        std::uint64_t mask;  // filters skipped
        std::vector<std::uint64_t> offset;
    };
    struct ChunkGrid {
        std::size_t rank;
        std::vector<std::uint64_t> chunk, grid, shape;
        std::uint64_t element;  // bytes
        std::uint64_t chunk_bytes;
        std::uint64_t deflate;  // the deflate filter's place in the pipeline, 32 for none
        std::uint64_t expected;
    };

    void read_chunk_btree(std::uint64_t address, const ChunkGrid& g, const std::string& path,
                          std::vector<Chunk>& chunks, std::set<std::uint64_t>& seen, std::set<std::uint64_t>& addresses,
                          long expected_level) {
        if (!nodes_.insert(address).second) fail(path, "B-tree node at address ", address, " is reached twice");
        const View head = at(address, 8 + 2 * offset_size_, path, "chunk B-tree node");
        if (head.u(0, 4) != 0x45455254) fail(path, "chunk B-tree node: bad signature");  // "TREE"
        if (head.u(4, 1) != 1)
            fail(path, "B-tree node of type ", head.u(4, 1), " where a chunk node (type 1) was expected");
        const auto level = static_cast<long>(head.u(5, 1));
        if (expected_level >= 0 && level != expected_level)
            fail(path, "B-tree node at level ", level, " where level ", expected_level, " was expected");
        const std::uint64_t used = head.u(6, 2);
        const std::uint64_t key = 8 + 8 * (g.rank + 1);
        const View body = at(address + 8 + 2 * offset_size_, used * (key + offset_size_) + key, path,
                             "chunk B-tree node");
        for (std::uint64_t i = 0; i < used; ++i) {
            const std::uint64_t k = i * (key + offset_size_);
            const std::uint64_t child = body.offset(k + key);
            if (level > 0) {
                read_chunk_btree(child, g, path, chunks, seen, addresses, level - 1);
                continue;
            }
            Chunk c{child, body.u(k, 4), body.u(k + 4, 4), std::vector<std::uint64_t>(g.rank)};
            std::uint64_t index = 0;
            for (std::size_t d = 0; d < g.rank; ++d) {
                c.offset[d] = body.u(k + 8 + 8 * d, 8);
                if (c.offset[d] % g.chunk[d] != 0 || c.offset[d] >= g.shape[d])
                    fail(path, "chunk at offset ", c.offset[d], " in dimension ", d, " lies off the grid of ",
                         g.chunk[d], "-element chunks of a dimension of ", g.shape[d]);
                index = index * g.grid[d] + c.offset[d] / g.chunk[d];
            }
            if (body.u(k + 8 + 8 * g.rank, 8) != 0) fail(path, "chunk with an offset in its element dimension");
            if (!seen.insert(index).second) fail(path, "chunk ", index, " is listed twice");
            if (!addresses.insert(c.address).second)
                fail(path, "chunk data at address ", c.address, " is reached twice");
            // What its stored bytes could hold: all of them unfiltered (or shuffled), 1032
            // times as many through deflate (its largest ratio), plus a block's worth.
            const bool inflated = g.deflate < 32 && ((c.mask >> g.deflate) & 1) == 0;
            if (inflated ? g.chunk_bytes > 1032 * c.size + 1032 : g.chunk_bytes != c.size)
                fail(path, "chunk of ", c.size, " stored bytes for ", g.chunk_bytes, " bytes of elements");
            if (chunks.size() >= g.expected) fail(path, "more chunks than the dataset's ", g.expected);
            chunks.push_back(std::move(c));
        }
    }

    // Copies chunk `c`'s elements (its full shape, row-major) into `out` (the dataset,
    // row-major), leaving out what lies past the dataset's edge.
    static void place(std::span<const std::byte> data, const Chunk& c, const ChunkGrid& g,
                      std::vector<std::byte>& out) {
        const std::size_t r = g.rank;
        const std::uint64_t element = g.element;
        std::vector<std::uint64_t> extent(r), i(r, 0);
        for (std::size_t d = 0; d < r; ++d) extent[d] = std::min(g.chunk[d], g.shape[d] - c.offset[d]);
        const std::uint64_t run = extent[r - 1] * element;
        while (true) {
            // Row i[0..r-2] of the chunk: its first element in the chunk and in the dataset.
            std::uint64_t from = 0, to = 0;
            for (std::size_t d = 0; d < r; ++d) {
                from = from * g.chunk[d] + (d + 1 < r ? i[d] : 0);
                to = to * g.shape[d] + c.offset[d] + (d + 1 < r ? i[d] : 0);
            }
            std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(from * element), run,
                        out.begin() + static_cast<std::ptrdiff_t>(to * element));
            std::size_t d = r - 1;
            while (d > 0 && ++i[d - 1] == extent[d - 1]) {
                i[d - 1] = 0;
                --d;
            }
            if (d == 0) break;
        }
    }

    // HDF5's shuffle filter undone: the chunk holds byte 0 of every element, then byte 1, ...;
    // bytes past the last whole element stay where they are.
    std::span<const std::byte> unshuffle(std::span<const std::byte> in, std::uint64_t width,
                                         std::vector<std::byte>& out, const std::string& path) const {
        if (width == 0) fail(path, "shuffle filter of 0-byte elements");
        out.assign(in.begin(), in.end());
        if (width > 1 && in.size() >= width) {
            const std::size_t n = in.size() / width;
            for (std::size_t b = 0; b < width; ++b)
                for (std::size_t e = 0; e < n; ++e) out[e * width + b] = in[b * n + e];
        }
        return out;
    }

#if defined(LAMINA_HAVE_ZLIB)
    // Inflates the zlib stream `in` into `buffer`: exactly `want` bytes and the stream's end,
    // with one byte of room past them to catch a stream that would go on.
    std::span<const std::byte> inflate_chunk(std::span<const std::byte> in, std::uint64_t want,
                                             std::vector<std::byte>& buffer, const std::string& path) const {
        z_stream z{};
        if (inflateInit(&z) != Z_OK) fail(path, "zlib could not start inflating");
        struct End {
            z_stream* z;
            ~End() { inflateEnd(z); }
        } end{&z};
        buffer.resize(static_cast<std::size_t>(want) + 1);
        std::size_t done = 0, pos = 0;
        while (true) {
            z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + pos));
            const auto avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - pos, 1u << 30));
            const auto avail_out = static_cast<uInt>(std::min<std::size_t>(buffer.size() - done, 1u << 30));
            z.avail_in = avail_in;
            z.next_out = reinterpret_cast<Bytef*>(buffer.data() + done);
            z.avail_out = avail_out;
            const int rc = ::inflate(&z, Z_NO_FLUSH);
            pos += avail_in - z.avail_in;
            done += avail_out - z.avail_out;
            if (done > want) fail(path, "a deflated chunk holds more than its ", want, " bytes");
            if (rc == Z_STREAM_END) break;
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                fail(path, "corrupt deflated chunk (zlib: ", z.msg ? z.msg : "error " + std::to_string(rc), ")");
            if (avail_in == z.avail_in && avail_out == z.avail_out)
                fail(path, "a deflated chunk ends after ", done, " of its ", want, " bytes");
        }
        if (done != want) fail(path, "a deflated chunk holds ", done, " bytes, not its ", want);
        return std::span<const std::byte>(buffer).first(done);
    }
#else
    std::span<const std::byte> inflate_chunk(std::span<const std::byte>, std::uint64_t, std::vector<std::byte>&,
                                             const std::string& path) const {
        fail(path, "chunked storage with filter 1 (deflate) needs zlib (LAMINA_HAVE_ZLIB)");
    }
#endif

    std::span<const std::byte> bytes_;
    std::string_view file_;
    std::size_t offset_size_ = 8;
    std::size_t length_size_ = 8;
    std::uint64_t leaf_k_ = 4;
    std::uint64_t internal_k_ = 16;
    std::uint64_t base_ = 0;
    std::uint64_t root_header_ = undefined;
    std::uint64_t string_budget_ = 4 * static_cast<std::uint64_t>(bytes_.size());
    std::set<std::uint64_t> objects_;
    std::set<std::uint64_t> continuations_;
    std::set<std::uint64_t> nodes_;
    std::map<std::uint64_t, std::map<std::uint64_t, std::span<const std::byte>>> heaps_;
};

}  // namespace detail

/// A whole HDF5 file read into memory: the tree of groups and datasets with their attributes.
///
/// \code
/// const auto file = lamina::io::hdf5::File::read("model.weights.h5");
/// const auto* kernel = file.root().find("layers/dense/vars/0");   // nullptr if absent
/// std::vector<float> w = kernel->data.values<float>();             // shape in kernel->data.shape
/// \endcode
class File {
public:
    /// Reads the HDF5 file held in `bytes`; `name` is the file's name for error messages.
    /// \throws lamina::io_error naming the file, the object and the feature, for malformed
    ///         files and every feature listed at the top of this header as refused.
    [[nodiscard]] static File parse(std::span<const std::byte> bytes, std::string name = "<memory>") {
        File f;
        f.name_ = std::move(name);
        detail::Parser parser(bytes, f.name_);
        f.root_ = parser.parse();
        return f;
    }

    /// Reads the HDF5 file at `path`. \throws lamina::io_error as `parse`, or if it cannot be read.
    [[nodiscard]] static File read(const std::filesystem::path& path) {
        const std::vector<std::byte> bytes = io::read_file(path, detail::reader);
        return parse(bytes, path.string());
    }

    /// The root group.
    [[nodiscard]] const Object& root() const { return root_; }
    /// The file's name, as given.
    [[nodiscard]] const std::string& name() const { return name_; }

private:
    std::string name_;
    Object root_;
};

}  // namespace lamina::io::hdf5
