// SPDX-License-Identifier: MIT
// lamina: a bounded reader of zip archives in memory (stored and deflated entries, zip64), for .npz and .keras files.
#pragma once

/*
What the reader checks, from PKWARE's APPNOTE.TXT, before it allocates or inflates anything:

- The end record, the zip64 end record and every central-directory record lie inside the
  archive, and the directory lists no more than `ZipLimits::max_entries` entries (read in
  one pass; names are checked for repeats with a hash set, so 65,535 entries read in linear
  time).
- Each entry's declared uncompressed size is at most `ZipLimits::max_total_bytes`, and so are
  all entries' sizes together: an archive that declares more is refused by its directory
  alone, whatever its data would inflate to.
- A deflated entry declares at most 1032 bytes per compressed byte (deflate's largest
  expansion, a 258-byte match in two bits), so a size no deflate stream can reach is refused
  before inflating.
- Each entry's local header is where the directory says, and (unless it defers them to a
  data descriptor, flag bit 3) gives the same CRC-32 and sizes as the directory.
- Reading an entry allocates its declared size once; a stored entry must have equal sizes,
  and a deflated one must end exactly at its declared size: the stream is stopped one byte
  past it, so one that would inflate further is found without inflating the rest. The
  CRC-32 must match.

Errors are `io_error`s "<reader>: '<file>': <problem>", naming the entry and the byte offset.
Readers of formats inside zip files (.npz, and .keras through io/stored_zip.hpp) take a
`ZipLimits` and add their own checks of each entry's contents.
*/

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#if defined(LAMINA_HAVE_ZLIB)
#include <zlib.h>
#endif

#include <lamina/core/error.hpp>
#include <lamina/io/crc32.hpp>
#include <lamina/io/file.hpp>

namespace lamina::io {

/// The bounds a zip reader enforces from an archive's directory, before it allocates or
/// inflates an entry.
struct ZipLimits {
    /// Entries the central directory may list (65,535 is the most a zip without zip64 holds).
    std::uint64_t max_entries = 65535;
    /// Uncompressed bytes one entry, and all entries together, may declare (default 1 GiB).
    std::uint64_t max_total_bytes = std::uint64_t(1) << 30;
};

/// The largest expansion of deflate: a 258-byte match coded in two bits.
inline constexpr std::uint64_t deflate_max_ratio = 1032;

/// One entry of a zip archive's central directory.
struct ZipEntry {
    std::string name;
    std::uint16_t method = 0;      ///< 0 stored, 8 deflated
    std::uint16_t flags = 0;       ///< bit 0 encrypted, bit 3 sizes in a data descriptor
    std::uint32_t crc = 0;         ///< CRC-32 of the uncompressed bytes
    std::uint64_t compressed = 0;  ///< bytes of data in the archive
    std::uint64_t size = 0;        ///< bytes once uncompressed, as declared
    std::uint64_t local_offset = 0;
};

namespace detail {

// The little-endian unsigned integer of `n` bytes at `p`, as zip and .npy files store them.
inline std::uint64_t load_le(const std::byte* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
    return v;
}

// Appends `v` to `out` as `n` little-endian bytes.
inline void store_le(std::vector<std::byte>& out, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::byte(static_cast<std::uint8_t>(v >> (8 * i))));
}

}  // namespace detail

/// A zip archive held in memory: its directory, read and checked against `ZipLimits` on
/// construction, and each entry's contents on demand.
///
/// \code
/// const lamina::io::ZipArchive zip(bytes, "model.keras", "lamina::load_keras", {.max_entries = 1000});
/// for (const auto& e : zip.entries()) use(e.name, zip.read(e));
/// \endcode
class ZipArchive {
public:
    /// Reads and checks the directory of the archive `bytes` (which must outlive this object).
    /// \param file    what error messages call the archive.
    /// \param reader  the function error messages name.
    /// \param context words error messages put before each problem (such as "zip archive: ",
    ///                where the archive is the container of another format).
    /// \throws lamina::io_error "<reader>: '<file>': <context><problem>": not a zip archive, a
    ///         truncated or inconsistent directory, a multi-disk archive, more entries or
    ///         more declared bytes than `limits` allow, a repeated name, or a deflated size
    ///         beyond deflate's reach.
    ZipArchive(std::span<const std::byte> bytes, std::string_view file, std::string_view reader,
               const ZipLimits& limits = {}, std::string_view context = {})
        : bytes_(bytes), file_(file), reader_(reader), context_(context), limits_(limits) {
        read_directory();
    }

    /// The entries in the order of the central directory.
    [[nodiscard]] const std::vector<ZipEntry>& entries() const noexcept { return entries_; }

    /// The uncompressed contents of `e` (one of `entries()`), checked against its declared
    /// size and CRC-32.
    /// \throws lamina::io_error for an encrypted entry, a missing or disagreeing local
    ///         header, data past the archive's end, an unknown method (or deflate without
    ///         zlib), a deflate stream that is corrupt or ends before or after its declared
    ///         size, or a CRC-32 mismatch.
    [[nodiscard]] std::vector<std::byte> read(const ZipEntry& e) const {
        if (e.method == 0) {
            const auto stored = view(e);
            return {stored.begin(), stored.end()};
        }
        const auto raw = data_of(e);
        std::vector<std::byte> content = inflate(raw, e, e.size, false);
        check_crc(e, raw, content);
        return content;
    }

    /// The contents of the stored (uncompressed) entry `e` as a view into the archive, with
    /// no copy, checked as `read` checks them.
    /// \throws lamina::io_error for a deflated entry (or another method), and as `read`.
    [[nodiscard]] std::span<const std::byte> view(const ZipEntry& e) const {
        if (e.method != 0)
            fail("entry '", e.name, "' is compressed (method ", e.method, "); only stored entries are read here");
        const auto stored = data_of(e);
        check_crc(e, stored, stored);
        return stored;
    }

    /// The first `n` bytes of `e`'s contents (fewer if it holds fewer), inflating only those:
    /// for checking a header inside the entry against its declared size before reading it
    /// all. Neither its size nor its CRC-32 is checked (`read` checks both).
    [[nodiscard]] std::vector<std::byte> read_prefix(const ZipEntry& e, std::uint64_t n) const {
        const auto raw = data_of(e);
        n = std::min(n, e.size);
        if (e.method == 0) return {raw.begin(), raw.begin() + std::ptrdiff_t(n)};
        return inflate(raw, e, n, true);
    }

    /// Throws "<reader>: '<file>': <parts...>".
    template <class... Parts>
    [[noreturn]] void fail(const Parts&... parts) const {
        detail::raise_io_error(reader_, file_, context_, parts...);
    }

private:
    // `content`, read from the data `raw` of `e`, must have the directory's CRC-32.
    void check_crc(const ZipEntry& e, std::span<const std::byte> raw, std::span<const std::byte> content) const {
        const std::uint32_t crc = crc32(content);
        if (crc == e.crc) return;
        std::ostringstream s;
        s << std::hex << std::uppercase << "computed 0x" << crc << ", the directory gives 0x" << e.crc;
        fail("entry '", e.name, "' at byte ", std::uint64_t(raw.data() - bytes_.data()),
             " is damaged: CRC-32 mismatch (", s.str(), ")");
    }

    std::uint64_t u(std::uint64_t at, std::size_t n) const { return detail::load_le(bytes_.data() + at, n); }

    void read_directory() {
        const std::size_t size = bytes_.size();
        // The end-of-central-directory record: 22 bytes and a comment of up to 65535, at the end.
        if (size < 22) fail("not a zip archive: ", size, " bytes are too few for one");
        std::uint64_t eocd = size;
        for (std::uint64_t at = size - 22 + 1; at-- > 0 && size - at <= 22 + 0xFFFF;) {
            if (u(at, 4) == 0x06054B50 && at + 22 + u(at + 20, 2) == size) {
                eocd = at;
                break;
            }
        }
        if (eocd == size) {
            if (size >= 6 && std::memcmp(bytes_.data(), "\x93NUMPY", 6) == 0)
                fail("this is a single .npy array, not an .npz archive (numpy.save, not numpy.savez)");
            fail("not a zip archive: no end-of-central-directory record",
                 size >= 4 && u(0, 4) == 0x04034B50 ? " (truncated archive)" : "");
        }
        std::uint64_t count = u(eocd + 10, 2), dir_size = u(eocd + 12, 4), dir_offset = u(eocd + 16, 4);
        if (u(eocd + 4, 2) != 0 || u(eocd + 6, 2) != 0 || u(eocd + 8, 2) != count)
            fail("multi-disk zip archives are not supported (end record at byte ", eocd, ")");
        if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {
            // Zip64: the locator sits just before the end record and points to the zip64 end record.
            if (eocd < 20 || u(eocd - 20, 4) != 0x07064B50)
                fail("the end record at byte ", eocd, " needs zip64, but no zip64 locator precedes it");
            const std::uint64_t at = u(eocd - 20 + 8, 8);
            if (at > eocd - 20 || eocd - 20 - at < 56 || u(at, 4) != 0x06064B50)
                fail("the zip64 locator at byte ", eocd - 20, " points to byte ", at, ", where no zip64 end record is");
            count = u(at + 32, 8);
            dir_size = u(at + 40, 8);
            dir_offset = u(at + 48, 8);
            eocd = at;
        }
        if (dir_offset > eocd || dir_size > eocd - dir_offset)
            fail("the central directory (", dir_size, " bytes at byte ", dir_offset,
                 ") runs past the end record at byte ", eocd, " (truncated or damaged archive)");
        if (count > dir_size / 46)
            fail("the directory claims ", count, " entries, more than its ", dir_size, " bytes can hold");
        if (count > limits_.max_entries)
            fail("the directory lists ", count, " entries, more than the ", limits_.max_entries,
                 " this reader accepts (ZipLimits::max_entries)");

        entries_.reserve(std::size_t(count));
        std::unordered_set<std::string_view> names;
        names.reserve(std::size_t(count));
        std::uint64_t total = 0;
        std::uint64_t at = dir_offset;
        const std::uint64_t dir_end = dir_offset + dir_size;
        for (std::uint64_t k = 0; k < count; ++k) {
            if (dir_end - at < 46 || u(at, 4) != 0x02014B50)
                fail("directory entry ", k, " at byte ", at, " is malformed (no signature 50 4B 01 02)");
            ZipEntry e;
            e.flags = std::uint16_t(u(at + 8, 2));
            e.method = std::uint16_t(u(at + 10, 2));
            e.crc = std::uint32_t(u(at + 16, 4));
            e.compressed = u(at + 20, 4);
            e.size = u(at + 24, 4);
            const std::uint64_t name_len = u(at + 28, 2), extra_len = u(at + 30, 2), comment_len = u(at + 32, 2);
            e.local_offset = u(at + 42, 4);
            if (46 + name_len + extra_len + comment_len > dir_end - at)
                fail("directory entry ", k, " at byte ", at, " runs past the directory's end");
            e.name.assign(reinterpret_cast<const char*>(bytes_.data() + at + 46), std::size_t(name_len));
            read_zip64_extra(at + 46 + name_len, extra_len, e, "directory entry " + std::to_string(k));
            at += 46 + name_len + extra_len + comment_len;

            if (e.method == 8 && e.size / deflate_max_ratio > e.compressed)
                fail("entry '", e.name, "' declares ", e.size, " bytes from ", e.compressed,
                     " deflated bytes: deflate expands at most ", deflate_max_ratio, " times");
            if (e.size > limits_.max_total_bytes)
                fail("entry '", e.name, "' declares ", e.size, " bytes uncompressed, more than the ",
                     limits_.max_total_bytes, " this reader accepts (ZipLimits::max_total_bytes)");
            total += e.size;
            if (total > limits_.max_total_bytes)
                fail("the entries up to '", e.name, "' declare ", total, " bytes uncompressed, more than the ",
                     limits_.max_total_bytes, " this reader accepts in all (ZipLimits::max_total_bytes)");
            entries_.push_back(std::move(e));
        }
        // The names point into entries_, which no longer grows.
        for (const auto& e : entries_)
            if (!names.insert(e.name).second) fail("entry '", e.name, "' appears twice");
    }

    // A zip64 extra field (id 1) among the extra fields at `at`: the 64-bit values of the
    // fields set to 0xFFFFFFFF, in the order size, compressed size, offset.
    void read_zip64_extra(std::uint64_t at, std::uint64_t len, ZipEntry& e, const std::string& what) const {
        for (std::uint64_t x = at, x_end = at + len; x + 4 <= x_end;) {
            const std::uint64_t id = u(x, 2), field_len = u(x + 2, 2);
            if (field_len > x_end - x - 4) fail(what, ": an extra field at byte ", x, " runs past its end");
            if (id == 0x0001) {
                std::uint64_t y = x + 4;
                for (std::uint64_t* field : {&e.size, &e.compressed, &e.local_offset}) {
                    if (*field != 0xFFFFFFFF) continue;
                    if (y + 8 > x + 4 + field_len) fail(what, ": the zip64 field at byte ", x, " is too short");
                    *field = u(y, 8);
                    y += 8;
                }
            }
            x += 4 + field_len;
        }
    }

    // The compressed bytes of `e`, after checking its local header against the directory.
    std::span<const std::byte> data_of(const ZipEntry& e) const {
        const std::size_t size = bytes_.size();
        if (e.flags & 1u) fail("entry '", e.name, "' is encrypted");
        if (e.method != 0 && e.method != 8)
            fail("entry '", e.name, "' uses compression method ", e.method,
                 "; lamina reads stored (0) and deflated (8) entries");
#if !defined(LAMINA_HAVE_ZLIB)
        if (e.method == 8)
            fail("entry '", e.name, "' is deflate-compressed (numpy.savez_compressed) and lamina ",
                 "was built without zlib (LAMINA_HAVE_ZLIB); save it with numpy.savez, or rebuild with zlib");
#endif
        if (e.method == 0 && e.size != e.compressed)
            fail("entry '", e.name, "' is stored but its sizes differ (", e.compressed, " and ", e.size, ")");
        const std::uint64_t local = e.local_offset;
        if (local > size || size - local < 30 || u(local, 4) != 0x04034B50)
            fail("entry '", e.name, "': no local header at byte ", local);
        const std::uint64_t name_len = u(local + 26, 2), extra_len = u(local + 28, 2);
        const std::uint64_t data = local + 30 + name_len + extra_len;
        if (data > size || e.compressed > size - data)
            fail("entry '", e.name, "': its ", e.compressed, " bytes of data at byte ", data,
                 " run past the end of the ", size, "-byte archive (truncated)");
        if (!(e.flags & 8u)) {
            // Without a data descriptor, the local header repeats the directory's CRC and sizes.
            ZipEntry local_e;
            local_e.crc = std::uint32_t(u(local + 14, 4));
            local_e.compressed = u(local + 18, 4);
            local_e.size = u(local + 22, 4);
            read_zip64_extra(local + 30 + name_len, extra_len, local_e, "the local header of '" + e.name + "'");
            if (local_e.crc != e.crc || local_e.compressed != e.compressed || local_e.size != e.size)
                fail("entry '", e.name, "': its local header at byte ", local, " gives ", local_e.compressed,
                     " compressed and ", local_e.size, " uncompressed bytes, the directory ", e.compressed, " and ",
                     e.size, (local_e.crc != e.crc ? " (and another CRC-32)" : ""), ": the archive is inconsistent");
        }
        return bytes_.subspan(std::size_t(data), std::size_t(e.compressed));
    }

#if defined(LAMINA_HAVE_ZLIB)
    // Inflates raw deflate data `in` of entry `e`: its first `want` bytes or fewer when
    // `prefix`, else exactly its declared size `want`: the stream must end there, and one
    // byte of room past it shows a stream that would go on, without inflating the rest.
    std::vector<std::byte> inflate(std::span<const std::byte> in, const ZipEntry& e, std::uint64_t want,
                                   bool prefix) const {
        z_stream z{};
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK) fail("zlib could not start inflating");
        struct End {
            z_stream* z;
            ~End() { inflateEnd(z); }
        } end{&z};
        std::vector<std::byte> out(std::size_t(want) + (prefix ? 0 : 1));  // bounded by ZipLimits
        std::size_t done = 0, pos = 0;
        while (true) {
            z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + pos));
            const auto avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - pos, 1u << 30));
            const auto avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - done, 1u << 30));
            z.avail_in = avail_in;
            z.next_out = reinterpret_cast<Bytef*>(out.data() + done);
            z.avail_out = avail_out;
            const int rc = ::inflate(&z, Z_NO_FLUSH);
            pos += avail_in - z.avail_in;
            done += avail_out - z.avail_out;
            if (!prefix && done > e.size)
                fail("entry '", e.name, "': the deflated data holds more than the ", e.size,
                     " bytes the directory gives");
            if (prefix && (done == want || rc == Z_STREAM_END)) break;
            if (rc == Z_STREAM_END) {
                if (done != e.size)
                    fail("entry '", e.name, "': the deflated data holds ", done, " bytes, but the directory gives ",
                         e.size);
                break;
            }
            if (rc == Z_BUF_ERROR && z.avail_out != 0)
                fail("entry '", e.name, "': the deflated data is truncated: it ends after ", done, " of its ", e.size,
                     " bytes");
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                fail("entry '", e.name,
                     "': corrupt deflated data (zlib: ", z.msg ? z.msg : "error " + std::to_string(rc),
                     ") at compressed byte ", pos);
            if (avail_in == z.avail_in && avail_out == z.avail_out)
                fail("entry '", e.name, "': the deflated data ends before its ", e.size, " bytes");
        }
        out.resize(done);
        return out;
    }
#else
    std::vector<std::byte> inflate(std::span<const std::byte>, const ZipEntry& e, std::uint64_t, bool) const {
        fail("entry '", e.name, "' is deflate-compressed and lamina was built without zlib (LAMINA_HAVE_ZLIB)");
    }
#endif

    std::span<const std::byte> bytes_;
    std::string file_, reader_, context_;
    ZipLimits limits_;
    std::vector<ZipEntry> entries_;
};

}  // namespace lamina::io
