// SPDX-License-Identifier: MIT
// lamina: NumPy's .npy arrays and .npz archives (zip), to trade weights with Python.
#pragma once

/*
What lamina writes and reads (see NumPy's "NEP 1: a simple file format for NumPy arrays"
and PKWARE's APPNOTE.TXT for the zip format):

- An `.npy` array: the magic "\x93NUMPY", version 1.0 (lamina also reads 2.0 and 3.0), the
  header length (u16 little-endian; u32 from 2.0), a header that is a Python dict literal
  `{'descr': '<f4', 'fortran_order': False, 'shape': (784, 100), }` padded with spaces and
  a newline so that the data starts at a multiple of 64 bytes, then the elements.
  lamina writes little-endian float32 ('<f4') or float64 ('<f8') in C order; it reads any
  byte order ('<', '>', '=', '|') and Fortran order, but only float32 and float64 into
  weights (other dtypes are read but `npy_values` refuses them).
- An `.npz` archive: a zip file of such arrays, one entry "<key>.npy" per array, as
  `numpy.savez` writes (stored) and `numpy.savez_compressed` writes (deflated). lamina
  writes stored entries (no compression, a fixed 1980-01-01 timestamp, so the same weights
  give the same bytes), without zip64 (archives up to 4 GiB). It reads stored entries,
  deflated ones when built with zlib (LAMINA_HAVE_ZLIB), zip64 sizes and offsets, and checks
  every entry's CRC-32.

Reading never trusts a size it has not seen the data for. The zip side is `ZipArchive`
(io/zip.hpp): every length and offset is checked against the archive's size, the entry count
and the declared uncompressed sizes against `ZipLimits` (by default 65,535 entries and 1 GiB
in all; `load_weights` allows what its model can hold), before anything is allocated or
inflated. Then each entry's .npy header (at most 65,536 bytes; NumPy's own reader stops at
10,000) is read alone, inflating only its first bytes, and the bytes its shape and dtype need
must be exactly the entry's declared size; only then is the entry read whole, and its
inflated byte count and CRC-32 must agree with the directory.
*/

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/io/crc32.hpp>
#include <lamina/io/file.hpp>
#include <lamina/io/stored_zip.hpp>
#include <lamina/io/zip.hpp>

namespace lamina::io {

/// One NumPy array as an .npy file holds it: its dtype string, its memory order, its shape
/// and its elements' bytes exactly as stored (in the dtype's byte order).
struct NpyArray {
    /// NumPy's dtype string, e.g. "<f4" (little-endian float32) or "<f8".
    std::string descr;
    /// True when the elements are stored in Fortran (column-major) order.
    bool fortran_order = false;
    /// The dimensions; empty for a 0-d (scalar) array.
    std::vector<std::uint64_t> shape;
    /// The elements' bytes: product(shape) x item size.
    std::vector<std::byte> data;
};

/// One array of an .npz archive: its key (the entry's name without ".npy") and the array.
struct NpzEntry {
    std::string name;
    NpyArray array;
};

namespace detail {

inline constexpr std::string_view npz_reader = "lamina::io::read_npz";
inline constexpr std::string_view npy_magic = "\x93NUMPY";

/// "(784, 100)" or "(100,)" or "()", as Python writes a tuple.
inline std::string python_tuple(const std::vector<std::uint64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

/// The bytes of one element of dtype `descr` ("<f4": 4), or 0 when lamina does not know
/// the dtype. Known: [<>=|] then b, i, u, f or c, then the size in bytes.
inline std::size_t item_size(std::string_view descr) {
    if (descr.size() < 3 || descr.size() > 4 || std::string_view("<>=|").find(descr[0]) == std::string_view::npos ||
        std::string_view("biufc").find(descr[1]) == std::string_view::npos)
        return 0;
    std::size_t n = 0;
    for (const char c : descr.substr(2)) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + std::size_t(c - '0');
    }
    return n >= 1 && n <= 32 ? n : 0;
}

/// Parses an .npy header, the Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, keys in any order.
class NpyHeaderParser {
public:
    NpyHeaderParser(std::string_view text, std::string_view file, std::string_view entry)
        : text_(text), file_(file), entry_(entry) {}

    void parse(NpyArray& a) {
        bool seen_descr = false, seen_order = false, seen_shape = false;
        expect('{');
        while (true) {
            skip();
            if (peek() == '}') break;
            const std::string key = string_literal();
            expect(':');
            if (key == "descr" && !seen_descr) {
                seen_descr = true;
                skip();
                if (peek() != '\'' && peek() != '"')
                    fail("'descr' is not a simple dtype string (structured dtypes are not supported)");
                a.descr = string_literal();
            } else if (key == "fortran_order" && !seen_order) {
                seen_order = true;
                a.fortran_order = boolean();
            } else if (key == "shape" && !seen_shape) {
                seen_shape = true;
                a.shape = tuple();
            } else {
                fail("unexpected or repeated key '", key, "'");
            }
            skip();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != '}') fail("expected ',' or '}' at header character ", pos_);
        }
        ++pos_;
        skip();
        if (pos_ != text_.size()) fail("unexpected text after the header's closing '}' at character ", pos_);
        if (!seen_descr || !seen_order || !seen_shape)
            fail("the header lacks ", !seen_descr ? "'descr'" : !seen_order ? "'fortran_order'" : "'shape'");
    }

private:
    template <class... Parts>
    [[noreturn]] void fail(const Parts&... parts) const {
        raise_io_error(npz_reader, file_, "array '", entry_, "': malformed .npy header: ", parts...);
    }
    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    void skip() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
    }
    void expect(char c) {
        skip();
        if (peek() != c) fail("expected '", c, "' at header character ", pos_);
        ++pos_;
    }
    std::string string_literal() {
        skip();
        const char quote = peek();
        if (quote != '\'' && quote != '"') fail("expected a string at header character ", pos_);
        const std::size_t end = text_.find(quote, pos_ + 1);
        if (end == std::string_view::npos || end - pos_ > 64)
            fail("unterminated or overlong string at header character ", pos_);
        std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
        if (s.find('\\') != std::string::npos) fail("escapes in strings are not supported");
        pos_ = end + 1;
        return s;
    }
    bool boolean() {
        skip();
        if (text_.substr(pos_, 4) == "True") return pos_ += 4, true;
        if (text_.substr(pos_, 5) == "False") return pos_ += 5, false;
        fail("expected True or False at header character ", pos_);
    }
    std::vector<std::uint64_t> tuple() {
        expect('(');
        std::vector<std::uint64_t> dims;
        while (true) {
            skip();
            if (peek() == ')') break;
            if (peek() < '0' || peek() > '9') fail("expected a dimension at header character ", pos_);
            std::uint64_t d = 0;
            while (peek() >= '0' && peek() <= '9') {
                const auto digit = std::uint64_t(peek() - '0');
                if (d > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) fail("a dimension overflows");
                d = d * 10 + digit;
                ++pos_;
            }
            if (peek() == 'L') ++pos_;  // Python 2 wrote long integers so
            if (dims.size() == 64) fail("more than 64 dimensions");
            dims.push_back(d);
            skip();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != ')') fail("expected ',' or ')' at header character ", pos_);
        }
        ++pos_;
        return dims;
    }

    std::string_view text_, file_, entry_;
    std::size_t pos_ = 0;
};

/// The byte count of `shape`'s elements of `item` bytes, or fails when it overflows 64 bits.
inline std::uint64_t data_bytes(const std::vector<std::uint64_t>& shape, std::size_t item, std::string_view file,
                                std::string_view entry) {
    for (const auto d : shape)
        if (d == 0) return 0;
    std::uint64_t bytes = item;
    for (const auto d : shape) {
        if (bytes > std::numeric_limits<std::uint64_t>::max() / d)
            raise_io_error(npz_reader, file, "array '", entry, "': its shape ", python_tuple(shape), " of ", item,
                           "-byte elements overflows: no file can hold it");
        bytes *= d;
    }
    return bytes;
}

}  // namespace detail

/// The .npy file (format version 1.0) of `array`.
/// \throws lamina::error if the header would exceed 65535 bytes (over 64 dimensions) or
///         the data's size does not match the shape and dtype.
[[nodiscard]] inline std::vector<std::byte> encode_npy(const NpyArray& array) {
    const std::size_t item = detail::item_size(array.descr);
    std::uint64_t count = 1;
    for (const auto d : array.shape) count *= d;
    if (item == 0 || array.shape.size() > 64 || count * item != array.data.size())
        throw error("lamina::io::encode_npy: the dtype '" + array.descr + "' and shape " +
                    detail::python_tuple(array.shape) + " do not describe the " + std::to_string(array.data.size()) +
                    " bytes of data");
    std::string header = "{'descr': '" + array.descr +
                         "', 'fortran_order': " + (array.fortran_order ? "True" : "False") +
                         ", 'shape': " + detail::python_tuple(array.shape) + ", }";
    // Pad with spaces and end with a newline so that the data starts at a multiple of 64.
    const std::size_t unpadded = detail::npy_magic.size() + 4 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    std::vector<std::byte> out;
    out.reserve(10 + header.size() + array.data.size());
    for (const char c : detail::npy_magic) out.push_back(static_cast<std::byte>(c));
    out.push_back(std::byte{1});
    out.push_back(std::byte{0});
    detail::store_le(out, header.size(), 2);
    for (const char c : header) out.push_back(static_cast<std::byte>(c));
    out.insert(out.end(), array.data.begin(), array.data.end());
    return out;
}

namespace detail {

/// The most bytes of .npy header lamina reads (format 1.0's own limit; NumPy reads 10,000).
inline constexpr std::uint64_t max_npy_header = 65536;

/// An .npy array's header: the array without its data, where the data starts and how many
/// bytes it needs.
struct NpyPreamble {
    NpyArray array;
    std::uint64_t data_start = 0, data_bytes = 0;
};

/// Parses the preamble at the start of `bytes`, which need hold only the header (an .npy
/// file's first 10 + max_npy_header bytes are always enough).
inline NpyPreamble parse_npy_preamble(std::span<const std::byte> bytes, std::string_view file, std::string_view entry) {
    if (bytes.size() < 10 || std::memcmp(bytes.data(), npy_magic.data(), 6) != 0)
        raise_io_error(npz_reader, file, "array '", entry, "' is not a .npy array (wrong magic at byte 0)");
    const auto major = std::to_integer<unsigned>(bytes[6]), minor = std::to_integer<unsigned>(bytes[7]);
    if (major < 1 || major > 3 || minor != 0)
        raise_io_error(npz_reader, file, "array '", entry, "': .npy format version ", major, ".", minor,
                       " at byte 6: expected 1.0, 2.0 or 3.0");
    const std::size_t len_size = major == 1 ? 2 : 4;
    if (bytes.size() < 6 + 2 + len_size) raise_io_error(npz_reader, file, "array '", entry, "': truncated .npy header");
    const std::uint64_t header_len = load_le(bytes.data() + 8, len_size);
    const std::size_t start = 8 + len_size;
    if (header_len > max_npy_header)
        raise_io_error(npz_reader, file, "array '", entry, "': the .npy header length ", header_len,
                       " at byte 8 is over the ", max_npy_header, " bytes lamina reads");
    if (header_len > bytes.size() - start)
        raise_io_error(npz_reader, file, "array '", entry, "': the .npy header length ", header_len,
                       " at byte 8 runs past the ", bytes.size(), " bytes of the array (truncated)");
    std::string_view text(reinterpret_cast<const char*>(bytes.data() + start), std::size_t(header_len));
    for (const char c : text)
        if ((c < 0x20 || c > 0x7E) && c != '\n' && c != '\t')
            raise_io_error(npz_reader, file, "array '", entry, "': the .npy header holds a byte that is not text");
    NpyPreamble p;
    NpyHeaderParser(text, file, entry).parse(p.array);
    const std::size_t item = item_size(p.array.descr);
    if (item == 0)
        raise_io_error(npz_reader, file, "array '", entry, "': unsupported dtype '", p.array.descr,
                       "' (lamina reads booleans, integers, floats and complex numbers)");
    p.data_start = start + header_len;
    p.data_bytes = data_bytes(p.array.shape, item, file, entry);
    return p;
}

}  // namespace detail

/// Reads one .npy file from memory (versions 1.0, 2.0 and 3.0).
/// \param bytes the file's bytes.
/// \param file what error messages call the file (or the archive holding it).
/// \param entry what error messages call the array.
/// \throws lamina::io_error naming the file, the array and the problem for a wrong magic,
///         an unknown version, a malformed or over-long header (over 65,536 bytes), an
///         unknown dtype, or data whose size differs from what the shape and dtype need.
[[nodiscard]] inline NpyArray decode_npy(std::span<const std::byte> bytes, std::string_view file = "<memory>",
                                         std::string_view entry = "<array>") {
    detail::NpyPreamble p = detail::parse_npy_preamble(bytes, file, entry);
    const std::uint64_t available = bytes.size() - p.data_start, need = p.data_bytes;
    if (need != available)
        detail::raise_io_error(detail::npz_reader, file, "array '", entry, "': shape ",
                               detail::python_tuple(p.array.shape), " of '", p.array.descr, "' needs ", need,
                               " bytes of data from byte ", p.data_start, ", but the array holds ", available,
                               need > available ? " (truncated)" : " (trailing bytes)");
    p.array.data.assign(bytes.begin() + std::ptrdiff_t(p.data_start), bytes.end());
    return std::move(p.array);
}

/// A C-order little-endian .npy array of float32 ('<f4') or float64 ('<f8') holding
/// `values` with the given shape (whose product must be `values.size()`).
/// \throws std::invalid_argument if the shape does not match the value count.
template <Scalar S>
[[nodiscard]] NpyArray make_npy(std::span<const S> values, std::vector<std::uint64_t> shape) {
    static_assert(sizeof(S) == 4 || sizeof(S) == 8, "float32 or float64 only");
    std::uint64_t count = 1;
    for (const auto d : shape) count *= d;
    if (count != values.size())
        throw std::invalid_argument("lamina::io::make_npy: shape " + detail::python_tuple(shape) + " does not hold " +
                                    std::to_string(values.size()) + " values");
    NpyArray a{sizeof(S) == 4 ? "<f4" : "<f8", false, std::move(shape), {}};
    a.data.reserve(values.size() * sizeof(S));
    using U = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
    for (const S v : values) detail::store_le(a.data, std::bit_cast<U>(v), sizeof(S));
    return a;
}

/// NumPy's name of scalar type `S`: "float32" or "float64".
template <Scalar S>
[[nodiscard]] constexpr std::string_view numpy_type_name() noexcept {
    return sizeof(S) == 4 ? "float32" : "float64";
}

/// The elements of `array` as `S`, in C (row-major) order whatever the array's order,
/// in host byte order.
/// \param array an array of float32 (for `float`) or float64 (for `double`), either byte order.
/// \param file, entry what error messages call the file and the array.
/// \param where the function error messages name.
/// \throws lamina::io_error "<where>: '<file>': ..." naming the array, its dtype and the one
///         expected if the dtype is not exactly `S`'s (lamina does not convert).
template <Scalar S>
[[nodiscard]] std::vector<S> npy_values(const NpyArray& array, std::string_view file, std::string_view entry,
                                        std::string_view where = "lamina::io::npy_values") {
    const bool floating = array.descr.size() == 3 && array.descr[1] == 'f' && array.descr[0] != '|';
    if (!floating || detail::item_size(array.descr) != sizeof(S)) {
        const std::string want = sizeof(S) == 4 ? "float32" : "float64";
        detail::raise_io_error(where, file, "array '", entry, "' has dtype '", array.descr, "', but the model is of ",
                               want, " ('<f", sizeof(S), "'); lamina does not convert: use ", "array.astype(numpy.",
                               want, ") in Python");
    }
    // '<' little-endian, '>' big-endian, '=' the host's order.
    const bool big = array.descr[0] == '>' || (array.descr[0] == '=' && std::endian::native == std::endian::big);
    using U = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
    const std::size_t n = array.data.size() / sizeof(S);
    std::vector<S> stored(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::byte* p = array.data.data() + i * sizeof(S);
        std::uint64_t u = 0;
        for (std::size_t b = 0; b < sizeof(S); ++b)
            u |= std::uint64_t(std::to_integer<std::uint8_t>(p[b])) << (8 * (big ? sizeof(S) - 1 - b : b));
        stored[i] = std::bit_cast<S>(static_cast<U>(u));
    }
    if (!array.fortran_order || array.shape.size() < 2) return stored;
    // Fortran order: element (i0, ..., ik) is at i0 + d0 * (i1 + d1 * (...)). Walk the C
    // order with a counter, keeping the Fortran offset up to date.
    std::vector<S> c_order(n);
    const std::size_t rank = array.shape.size();
    std::vector<std::uint64_t> index(rank, 0), stride(rank, 1);
    for (std::size_t k = 1; k < rank; ++k) stride[k] = stride[k - 1] * array.shape[k - 1];
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < n; ++i) {
        c_order[i] = stored[std::size_t(offset)];
        for (std::size_t k = rank; k-- > 0;) {  // the last index moves fastest in C order
            offset += stride[k];
            if (++index[k] < array.shape[k]) break;
            offset -= stride[k] * array.shape[k];
            index[k] = 0;
        }
    }
    return c_order;
}

/// The bytes of an .npz archive (a zip file of stored, uncompressed entries, each
/// "<name>.npy") holding `entries` in order, as `numpy.savez` writes one.
/// \throws lamina::error for an empty, duplicate, over-long or non-ASCII name, or an
///         archive over 4 GiB (which would need zip64).
[[nodiscard]] inline std::vector<std::byte> encode_npz(const std::vector<NpzEntry>& entries) {
    zip::Writer archive;
    std::uint64_t offset = 0;  // where the next local header goes
    for (std::size_t k = 0; k < entries.size(); ++k) {
        const auto& entry = entries[k];
        const std::string name = entry.name + ".npy";
        bool ok = !entry.name.empty() && name.size() < 256;
        for (const char c : name) ok = ok && c > 0x20 && c < 0x7F;
        for (std::size_t j = 0; ok && j < k; ++j) ok = entries[j].name != entry.name;
        if (!ok || entries.size() >= 0xFFFF)
            throw error("lamina::io::encode_npz: cannot store the array name '" + entry.name +
                        "' (empty, repeated, over 250 bytes or not printable ASCII without spaces)");
        const std::vector<std::byte> npy = encode_npy(entry.array);
        // Room for this entry and every directory record (up to 4096 bytes) below 4 GiB.
        if (npy.size() > 0xFFFFFFF0u - 4096 || offset > 0xFFFFFFF0u - 4096 - npy.size())
            throw error("lamina::io::encode_npz: the archive would exceed 4 GiB, which needs zip64 (not written)");
        archive.add(name, npy);
        offset += 30 + name.size() + npy.size();
    }
    return std::move(archive).finish();
}

/// The `ZipLimits` for reading the weights of a model of `values` parameters: as many bytes
/// as that many float64 values (so an archive of the wrong float type still reaches the
/// dtype check and its message) plus 64 MiB for the arrays' .npy headers.
[[nodiscard]] inline ZipLimits npz_limits_for(std::uint64_t values) noexcept {
    constexpr std::uint64_t headers = std::uint64_t(64) << 20;
    const std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
    return {.max_entries = 65535, .max_total_bytes = values > (most - headers) / 8 ? most : values * 8 + headers};
}

/// Reads an .npz archive from memory: every entry must be "<name>.npy", stored or (with
/// zlib) deflated, its .npy shape and dtype needing exactly the entry's declared size, with
/// a matching CRC-32.
/// \param bytes the archive's bytes.
/// \param file what error messages call the archive.
/// \param limits the most entries and uncompressed bytes to accept, checked from the zip
///        directory before anything is inflated.
/// \returns the arrays in the order of the zip directory, names without ".npy".
/// \throws lamina::io_error "lamina::io::read_npz: '<file>': <problem>" with the byte offset
///         where one applies: not a zip file, a truncated or inconsistent directory or local
///         header, a multi-disk or encrypted archive, more entries or declared bytes than
///         `limits` allow, an unsupported compression method (deflate without zlib), an
///         entry whose .npy shape disagrees with its declared size, deflated data that
///         inflates to another size, a CRC mismatch, an entry that is not a .npy array, a
///         repeated name, or a malformed .npy array.
[[nodiscard]] inline std::vector<NpzEntry> decode_npz(std::span<const std::byte> bytes,
                                                      std::string_view file = "<memory>",
                                                      const ZipLimits& limits = {}) {
    const ZipArchive zip(bytes, file, detail::npz_reader, limits);
    for (const auto& e : zip.entries())
        if (e.name.size() <= 4 || e.name.substr(e.name.size() - 4) != ".npy")
            zip.fail("entry '", e.name, "' is not a .npy array (its name does not end in .npy)");
    std::vector<NpzEntry> out;
    out.reserve(zip.entries().size());
    for (const auto& e : zip.entries()) {
        std::string key = e.name.substr(0, e.name.size() - 4);
        // A deflated entry's .npy header alone first (a stored one is all in the archive
        // already, and decode_npy checks it): its shape must need exactly the declared size.
        if (e.method != 0) {
            const auto head = zip.read_prefix(e, 10 + detail::max_npy_header);
            const detail::NpyPreamble p = detail::parse_npy_preamble(head, file, key);
            if (p.data_bytes > e.size || p.data_start != e.size - p.data_bytes)
                zip.fail("entry '", e.name, "': its .npy header and shape ", detail::python_tuple(p.array.shape),
                         " of '", p.array.descr, "' need ", p.data_start, " + ", p.data_bytes,
                         " bytes, but the zip directory declares ", e.size);
        }
        NpyArray array = decode_npy(zip.read(e), file, key);
        out.push_back({std::move(key), std::move(array)});
    }
    return out;
}

/// Writes `entries` as an .npz archive at `path`, atomically (io::write_file_atomically).
/// \throws lamina::io_error naming `path` if it cannot be written (nothing is left
///         behind); lamina::error as `encode_npz`.
inline void write_npz(const std::filesystem::path& path, const std::vector<NpzEntry>& entries,
                      std::string_view where = "lamina::io::write_npz") {
    write_file_atomically(path, encode_npz(entries), where);
}

/// Reads the .npz archive at `path` (as `decode_npz`, with the same `limits`).
/// \throws lamina::io_error naming `path` if it cannot be read or is malformed.
[[nodiscard]] inline std::vector<NpzEntry> read_npz(const std::filesystem::path& path, const ZipLimits& limits = {}) {
    return decode_npz(read_file(path, detail::npz_reader), path.string(), limits);
}

}  // namespace lamina::io
