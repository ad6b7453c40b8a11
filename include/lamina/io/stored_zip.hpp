// SPDX-License-Identifier: MIT
// lamina: a bounded reader and a writer of zip archives whose entries are stored (not compressed), as .keras files are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/io/crc32.hpp>
#include <lamina/io/file.hpp>

namespace lamina::io::zip {

/// One entry of an archive: its name and its bytes (a view into the archive when read).
struct Entry {
    std::string name;
    std::span<const std::byte> data;
};

namespace detail {

inline std::uint64_t le(std::span<const std::byte> b, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(std::to_integer<unsigned>(b[at + i])) << (8 * i);
    return v;
}

inline void put(std::vector<std::byte>& out, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::byte(static_cast<unsigned char>((v >> (8 * i)) & 0xFF)));
}

}  // namespace detail

/// The entries of the zip archive held in `bytes`, in the central directory's order, each a
/// view into `bytes`. Only stored entries are read (Keras writes .keras files stored).
/// \param where the function to name in errors; \param file the archive's name.
/// \throws lamina::io_error "<where>: '<file>': <problem>" for anything but a well-formed
///         archive of stored, unencrypted entries (no zip64) whose CRC-32s match.
[[nodiscard]] inline std::vector<Entry> read(std::span<const std::byte> bytes, std::string_view file,
                                             std::string_view where) {
    using detail::le;
    const auto fail = [&](const auto&... parts) { io::detail::raise_io_error(where, file, "zip archive: ", parts...); };
    const std::size_t size = bytes.size();
    if (size < 22) fail("too short for an end-of-central-directory record");
    // The end record: the last "PK\5\6" with its comment reaching exactly to the end.
    std::size_t end = size - 22;
    const std::size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (;; --end) {
        if (le(bytes, end, 4) == 0x06054b50 && end + 22 + le(bytes, end + 20, 2) == size) break;
        if (end == lowest) fail("no end-of-central-directory record");
    }
    const std::uint64_t count = le(bytes, end + 10, 2);
    const std::uint64_t cd_size = le(bytes, end + 12, 4);
    const std::uint64_t cd_offset = le(bytes, end + 16, 4);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) fail("zip64 archives are not supported");
    if (le(bytes, end + 4, 4) != 0 || le(bytes, end + 8, 2) != count) fail("multi-disk archives are not supported");
    if (cd_offset > end || cd_size > end - cd_offset) fail("the central directory lies outside the archive");
    if (count > cd_size / 46) fail(count, " entries cannot fit in a central directory of ", cd_size, " bytes");
    std::vector<Entry> entries;
    entries.reserve(static_cast<std::size_t>(count));
    std::size_t p = static_cast<std::size_t>(cd_offset);
    const std::size_t cd_end = static_cast<std::size_t>(cd_offset + cd_size);
    for (std::uint64_t i = 0; i < count; ++i) {
        if (cd_end - p < 46 || le(bytes, p, 4) != 0x02014b50) fail("central directory entry ", i, " is malformed");
        const std::uint64_t flags = le(bytes, p + 8, 2);
        const std::uint64_t method = le(bytes, p + 10, 2);
        const auto crc = static_cast<std::uint32_t>(le(bytes, p + 16, 4));
        const std::uint64_t packed = le(bytes, p + 20, 4);
        const std::uint64_t unpacked = le(bytes, p + 24, 4);
        const std::size_t name_length = static_cast<std::size_t>(le(bytes, p + 28, 2));
        const std::size_t rest = static_cast<std::size_t>(le(bytes, p + 30, 2) + le(bytes, p + 32, 2));
        const std::uint64_t local = le(bytes, p + 42, 4);
        if (cd_end - p - 46 < name_length + rest) fail("central directory entry ", i, " is truncated");
        std::string name(reinterpret_cast<const char*>(bytes.data() + p + 46), name_length);
        p += 46 + name_length + rest;
        if ((flags & 1) != 0) fail("entry '", name, "' is encrypted");
        if (method != 0) fail("entry '", name, "' is compressed (method ", method, "); only stored entries are read");
        if (packed != unpacked || packed == 0xFFFFFFFF) fail("entry '", name, "' has inconsistent sizes");
        if (local > cd_offset || cd_offset - local < 30 || le(bytes, static_cast<std::size_t>(local), 4) != 0x04034b50)
            fail("entry '", name, "': no local header at byte ", local);
        const auto l = static_cast<std::size_t>(local);
        const std::uint64_t data_at = local + 30 + le(bytes, l + 26, 2) + le(bytes, l + 28, 2);
        if (data_at > cd_offset || packed > cd_offset - data_at)
            fail("entry '", name, "': its ", packed, " bytes lie outside the archive");
        const auto data = bytes.subspan(static_cast<std::size_t>(data_at), static_cast<std::size_t>(packed));
        if (io::crc32(data) != crc) fail("entry '", name, "': CRC-32 mismatch");
        entries.push_back({std::move(name), data});
    }
    return entries;
}

/// The bytes of a zip archive of `entries`, stored, in order (what Python's
/// `zipfile.ZipFile(path, "w")` writes, and Keras with it).
/// \throws std::length_error for an archive over 4 GiB or over 65534 entries.
[[nodiscard]] inline std::vector<std::byte> write(const std::vector<Entry>& entries) {
    using detail::put;
    std::vector<std::byte> out, cd;
    if (entries.size() >= 0xFFFF) throw std::length_error("lamina::io::zip::write: too many entries");
    for (const Entry& e : entries) {
        const std::uint64_t offset = out.size();
        const std::uint32_t crc = io::crc32(e.data);
        if (e.data.size() >= 0xFFFFFFFFu || offset >= 0xFFFFFFFFu || e.name.size() > 0xFFFF)
            throw std::length_error("lamina::io::zip::write: an entry over 4 GiB (zip64 is not written)");
        // Local header: version 2.0, no flags, stored, 1980-01-01 00:00.
        put(out, 0x04034b50, 4), put(out, 20, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0x21, 2);
        put(out, crc, 4), put(out, e.data.size(), 4), put(out, e.data.size(), 4), put(out, e.name.size(), 2),
            put(out, 0, 2);
        for (const char c : e.name) out.push_back(std::byte(static_cast<unsigned char>(c)));
        out.insert(out.end(), e.data.begin(), e.data.end());
        put(cd, 0x02014b50, 4), put(cd, 20, 2), put(cd, 20, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 2);
        put(cd, 0x21, 2), put(cd, crc, 4), put(cd, e.data.size(), 4), put(cd, e.data.size(), 4);
        put(cd, e.name.size(), 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 4);
        put(cd, offset, 4);
        for (const char c : e.name) cd.push_back(std::byte(static_cast<unsigned char>(c)));
    }
    if (out.size() + cd.size() >= 0xFFFFFFFFu) throw std::length_error("lamina::io::zip::write: archive over 4 GiB");
    const std::uint64_t cd_offset = out.size();
    out.insert(out.end(), cd.begin(), cd.end());
    put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2), put(out, entries.size(), 2), put(out, entries.size(), 2);
    put(out, cd.size(), 4), put(out, cd_offset, 4), put(out, 0, 2);
    return out;
}

}  // namespace lamina::io::zip
