// SPDX-License-Identifier: MIT
// lamina: a reader for IDX files (MNIST's format), plain or gzip-compressed, of any type and rank.
#pragma once

#include <algorithm>
#include <bit>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#if defined(LAMINA_HAVE_ZLIB)
#include <zlib.h>
#endif

#include <lamina/core/error.hpp>
#include <lamina/io/file.hpp>

namespace lamina::io {

/// The element type of an IDX file: the third byte of its magic number.
enum class IdxType : std::uint8_t {
    u8 = 0x08,   ///< unsigned byte
    i8 = 0x09,   ///< signed byte
    i16 = 0x0B,  ///< short, 2 bytes
    i32 = 0x0C,  ///< int, 4 bytes
    f32 = 0x0D,  ///< float, 4 bytes
    f64 = 0x0E,  ///< double, 8 bytes
};

/// The C++ types an IDX file can hold, one per `IdxType`.
template <class T>
concept IdxElement = std::same_as<T, std::uint8_t> || std::same_as<T, std::int8_t> || std::same_as<T, std::int16_t> ||
    std::same_as<T, std::int32_t> || std::same_as<T, float> || std::same_as<T, double>;

/// The `IdxType` code of an element type, e.g. `idx_type_of<float>` is `IdxType::f32`.
template <IdxElement T>
inline constexpr IdxType idx_type_of = std::same_as<T, std::uint8_t>   ? IdxType::u8
                                       : std::same_as<T, std::int8_t>  ? IdxType::i8
                                       : std::same_as<T, std::int16_t> ? IdxType::i16
                                       : std::same_as<T, std::int32_t> ? IdxType::i32
                                       : std::same_as<T, float>        ? IdxType::f32
                                                                       : IdxType::f64;

namespace detail {

/// `value` as "0x" and 2 * `bytes` upper-case hex digits.
inline std::string hex(std::uint64_t value, int bytes) {
    std::string s = "0x";
    for (int shift = 8 * bytes - 4; shift >= 0; shift -= 4) s += "0123456789ABCDEF"[(value >> shift) & 0xF];
    return s;
}

/// Decodes one big-endian `T` from `sizeof(T)` bytes at `p`, on any host. The only
/// byte-order code in the reader: header fields and data elements both go through it.
template <class T>
T load_big_endian(const std::byte* p) {
    using U = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                                 std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                                    std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
    static_assert(sizeof(U) == sizeof(T));
    U u = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) u = static_cast<U>((u << 8) | static_cast<U>(p[i]));
    return std::bit_cast<T>(u);
}

/// A shape as "60000 x 28 x 28"; over 6 dimensions, the first 3 and the last 2 around
/// "...", and the rank: "1 x 2 x 3 x ... x 1 x 1 (rank 255)".
inline std::string shape_string(const std::vector<std::uint64_t>& shape) {
    std::string s;
    const std::size_t n = shape.size();
    for (std::size_t i = 0; i < n; ++i) {
        if (n > 6 && i == 3) {
            s += " x ...";
            i = n - 3;
            continue;
        }
        s += (s.empty() ? "" : " x ") + std::to_string(shape[i]);
    }
    if (n > 6) s += " (rank " + std::to_string(n) + ")";
    return s;
}

inline constexpr std::string_view reader = "lamina::io::read_idx";

/// Every IDX type, in the order of `IdxArray::Storage`'s alternatives.
inline constexpr IdxType idx_types[] = {IdxType::u8,  IdxType::i8,  IdxType::i16,
                                        IdxType::i32, IdxType::f32, IdxType::f64};

/// Calls `f(std::type_identity<T>{})` with the element type `T` of `type`, which must be
/// one of `idx_types`.
template <class F>
decltype(auto) visit_type(IdxType type, F&& f) {
    switch (type) {
        case IdxType::u8: return f(std::type_identity<std::uint8_t>{});
        case IdxType::i8: return f(std::type_identity<std::int8_t>{});
        case IdxType::i16: return f(std::type_identity<std::int16_t>{});
        case IdxType::i32: return f(std::type_identity<std::int32_t>{});
        case IdxType::f32: return f(std::type_identity<float>{});
        default: return f(std::type_identity<double>{});
    }
}

}  // namespace detail

/// The name IDX's specification gives a type, e.g. "unsigned byte (0x08)".
inline std::string to_string(IdxType t) {
    const char* name = t == IdxType::u8    ? "unsigned byte"
                       : t == IdxType::i8  ? "signed byte"
                       : t == IdxType::i16 ? "short"
                       : t == IdxType::i32 ? "int"
                       : t == IdxType::f32 ? "float"
                       : t == IdxType::f64 ? "double"
                                           : "unknown type";
    return std::string(name) + " (" + detail::hex(static_cast<unsigned>(t), 1) + ")";
}

/// An n-dimensional array read from an IDX file: its element type, its shape (outermost
/// dimension first, as on disk) and its elements in row-major order, in host byte order.
///
/// Example:
/// \code
///   auto labels = lamina::io::read_idx("data/mnist/train-labels-idx1-ubyte");
///   const std::vector<std::uint8_t>& y = labels.as<std::uint8_t>();  // 60000 labels
/// \endcode
class IdxArray {
public:
    /// The typed element storage: one alternative per `IdxType`.
    using Storage = std::variant<std::vector<std::uint8_t>, std::vector<std::int8_t>, std::vector<std::int16_t>,
                                 std::vector<std::int32_t>, std::vector<float>, std::vector<double>>;

    /// An array of the given shape holding `values` (row-major); `source` names where it
    /// came from in error messages.
    /// \throws std::invalid_argument if the product of `shape` is not `values.size()`.
    template <IdxElement T>
    IdxArray(std::vector<std::uint64_t> shape, std::vector<T> values, std::string source = "<memory>")
        : shape_(std::move(shape)), data_(std::move(values)), source_(std::move(source)) {
        bool fits = !shape_.empty();
        std::uint64_t n = 1;
        for (const auto d : shape_) {
            fits = fits && (d == 0 || n <= std::numeric_limits<std::uint64_t>::max() / d);
            n *= d;
        }
        if (!fits || n != std::get<std::vector<T>>(data_).size())
            throw std::invalid_argument("lamina::io::IdxArray: shape does not match the element count");
    }

    /// The element type.
    IdxType type() const { return detail::idx_types[data_.index()]; }
    /// The dimensions, outermost first (an MNIST image file: {60000, 28, 28}).
    const std::vector<std::uint64_t>& shape() const { return shape_; }
    /// The number of dimensions (1 to 255).
    std::size_t rank() const { return shape_.size(); }
    /// The number of elements: the product of the dimensions.
    std::size_t size() const {
        return std::visit([](const auto& v) { return v.size(); }, data_);
    }
    /// The file name (or the name given to an in-memory buffer) it was read from.
    const std::string& source() const { return source_; }

    /// The elements as `T`, row-major. Move out of the non-const overload to keep them
    /// without a copy (the array is then left empty, its shape unchanged).
    /// \throws io_error naming the source if the file's element type is not `T`.
    template <IdxElement T>
    const std::vector<T>& as() const {
        if (const auto* v = std::get_if<std::vector<T>>(&data_)) return *v;
        detail::raise_io_error("lamina::io::IdxArray::as", source_, "expected elements of type ",
                               to_string(idx_type_of<T>), ", the file holds ", to_string(type()));
    }
    /// \copydoc as() const
    template <IdxElement T>
    std::vector<T>& as() {
        return const_cast<std::vector<T>&>(std::as_const(*this).as<T>());
    }

private:
    std::vector<std::uint64_t> shape_;
    Storage data_;
    std::string source_;
};

namespace detail {

/// Bytes of an IDX stream, exact size known: a memory buffer.
class MemorySource {
public:
    explicit MemorySource(std::span<const std::byte> bytes) : bytes_(bytes) {}
    std::optional<std::uint64_t> size() const { return bytes_.size(); }
    std::size_t read(std::byte* dst, std::size_t n) {
        n = std::min(n, bytes_.size() - pos_);
        if (n != 0) std::memcpy(dst, bytes_.data() + pos_, n);
        pos_ += n;
        return n;
    }

private:
    std::span<const std::byte> bytes_;
    std::size_t pos_ = 0;
};

/// Bytes of an uncompressed IDX file, read straight into their destination.
class FileSource {
public:
    FileSource(std::FILE* file, std::uint64_t size, std::string_view name) : file_(file), size_(size), name_(name) {}
    std::optional<std::uint64_t> size() const { return size_; }
    std::size_t read(std::byte* dst, std::size_t n) {
        const std::size_t got = std::fread(dst, 1, n, file_);
        if (got < n && std::ferror(file_)) raise_io_error(reader, name_, "read error: ", std::strerror(errno));
        return got;
    }

private:
    std::FILE* file_;
    std::uint64_t size_;
    std::string_view name_;
};

#if defined(LAMINA_HAVE_ZLIB)
/// The decompressed bytes of gzip data in memory (one or more concatenated members).
/// Its size is unknown until the end: nothing is allocated on the strength of a header.
class GzipSource {
public:
    GzipSource(std::span<const std::byte> compressed, std::string_view name) : in_(compressed), name_(name) {
        // 16 + MAX_WBITS: expect a gzip wrapper and check its CRC-32 and length.
        if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK)
            raise_io_error(reader, name_, "zlib could not start decompressing");
    }
    GzipSource(const GzipSource&) = delete;
    GzipSource& operator=(const GzipSource&) = delete;
    ~GzipSource() { inflateEnd(&z_); }

    std::optional<std::uint64_t> size() const { return std::nullopt; }

    std::size_t read(std::byte* dst, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            if (ended_) {
                if (pos_ == in_.size()) break;  // end of the last member: end of data
                if (inflateReset(&z_) != Z_OK) fail("zlib could not start the next gzip member");
                ended_ = false;
            }
            if (pos_ == in_.size()) fail("the gzip stream is truncated (no end-of-stream marker)");
            const auto avail_in = static_cast<uInt>(std::min<std::size_t>(in_.size() - pos_, 1u << 30));
            const auto avail_out = static_cast<uInt>(std::min<std::size_t>(n - done, 1u << 30));
            z_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in_.data() + pos_));
            z_.avail_in = avail_in;
            z_.next_out = reinterpret_cast<Bytef*>(dst + done);
            z_.avail_out = avail_out;
            const int rc = inflate(&z_, Z_NO_FLUSH);
            pos_ += avail_in - z_.avail_in;
            done += avail_out - z_.avail_out;
            if (rc == Z_STREAM_END) ended_ = true;
            else if (rc != Z_OK)
                fail("corrupt gzip data (zlib: ", z_.msg ? z_.msg : "error " + std::to_string(rc), ")");
        }
        return done;
    }

private:
    template <class... Parts>
    [[noreturn]] void fail(const Parts&... parts) const {
        raise_io_error(reader, name_, parts..., " at compressed byte ", pos_, " of ", in_.size());
    }

    z_stream z_{};
    std::span<const std::byte> in_;
    std::string_view name_;
    std::size_t pos_ = 0;
    bool ended_ = false;
};
#endif

inline bool is_gzip(std::span<const std::byte> first) {
    return first.size() >= 2 && first[0] == std::byte{0x1F} && first[1] == std::byte{0x8B};
}

/// Reads `count` big-endian `T`s that start at byte `offset` of `src` and are followed by
/// nothing. Storage grows with the data that actually arrives when the source's size is
/// unknown (gzip), so a header cannot make the reader allocate more than the data holds.
template <IdxElement T, class Source>
std::vector<T> read_elements(Source& src, std::uint64_t count, std::uint64_t offset, std::string_view name) {
    constexpr std::size_t first_chunk = (std::size_t{1} << 20) / sizeof(T);
    std::vector<T> values;
    std::size_t done = 0;
    while (done < count) {
        const std::size_t want = src.size() ? std::size_t(count)
                                            : std::min<std::size_t>(count, std::max(2 * done, first_chunk));
        values.resize(want);
        const std::size_t bytes = (want - done) * sizeof(T);
        const std::size_t got = src.read(reinterpret_cast<std::byte*>(values.data() + done), bytes);
        if (got < bytes)
            raise_io_error(reader, name, "the data ends at byte ", offset + done * sizeof(T) + got,
                           " but the header promises ", count, " elements of ", sizeof(T), " bytes, ending at byte ",
                           offset + count * sizeof(T), " (truncated file)");
        done = want;
    }
    std::byte extra{};
    if (src.read(&extra, 1) != 0)
        raise_io_error(reader, name, "trailing bytes after the data: the header's data ends at byte ",
                       offset + count * sizeof(T), " but the file goes on");
    if constexpr (sizeof(T) > 1)
        for (T& v : values) v = load_big_endian<T>(reinterpret_cast<const std::byte*>(&v));
    return values;
}

/// Reads a whole IDX stream: header checks, then the elements.
template <class Source>
IdxArray read_idx(Source& src, std::string_view name) {
    std::byte magic[4]{};
    const std::size_t got = src.read(magic, 4);
    if (got < 4)
        raise_io_error(reader, name, "the file holds ", got, " bytes, too short for the 4-byte IDX magic number");
    const auto found = load_big_endian<std::uint32_t>(magic);
    if (magic[0] != std::byte{0} || magic[1] != std::byte{0}) {
        if (is_gzip(magic))
            raise_io_error(reader, name, "wrong magic number ", hex(found, 4),
                           ": the data is "
#if defined(LAMINA_HAVE_ZLIB)
                           "gzip-compressed twice"
#else
                           "gzip-compressed and lamina was built without zlib (LAMINA_HAVE_ZLIB); "
                           "gunzip it first or rebuild with zlib"
#endif
            );
        raise_io_error(reader, name, "wrong magic number ", hex(found, 4),
                       ": expected 0x0000TTRR (two zero bytes, a type code, the rank)");
    }
    if (magic[2] == std::byte{0})
        raise_io_error(reader, name, "wrong magic number ", hex(found, 4),
                       ": this is not an IDX file (no type code at byte 2; an IDX file starts 0x0000TTRR: two zero "
                       "bytes, a type code, the rank)");
    const auto code = std::to_integer<unsigned>(magic[2]);
    const auto rank = std::to_integer<unsigned>(magic[3]);
    const auto type = static_cast<IdxType>(code);
    if (std::ranges::find(idx_types, type) == std::end(idx_types))
        raise_io_error(reader, name, "unsupported type code ", hex(code, 1),
                       " at byte 2: expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E");
    const std::size_t element_size = visit_type(type, []<class T>(std::type_identity<T>) { return sizeof(T); });
    if (rank == 0) raise_io_error(reader, name, "rank 0 at byte 3: expected at least one dimension");

    std::byte dims[4 * 255];
    const std::uint64_t header = 4 + 4 * std::uint64_t(rank);
    if (const std::size_t n = src.read(dims, 4 * rank); n < 4 * rank)
        raise_io_error(reader, name, "the header ends at byte ", 4 + n, ": rank ", rank, " needs a ", header,
                       "-byte header");
    std::vector<std::uint64_t> shape(rank);
    for (unsigned i = 0; i < rank; ++i) {
        shape[i] = load_big_endian<std::uint32_t>(dims + 4 * i);
        if (shape[i] == 0)
            raise_io_error(reader, name, "dimension ", i, " (at byte ", 4 + 4 * i,
                           ") is 0: expected every dimension to be at least 1");
    }
    std::uint64_t count = 1;
    constexpr std::uint64_t max_bytes = std::uint64_t(std::numeric_limits<std::ptrdiff_t>::max());
    for (const std::uint64_t d : shape) {
        if (count > max_bytes / element_size / d)
            raise_io_error(reader, name, "the dimensions ", shape_string(shape), " of ", element_size,
                           "-byte elements overflow: the data would exceed ", max_bytes, " bytes");
        count *= d;
    }
    const std::uint64_t data_bytes = count * element_size;
    if (const auto size = src.size()) {  // checked here, before anything is allocated
        if (*size < header + data_bytes)
            raise_io_error(reader, name, "the header promises ", shape_string(shape), " = ", count, " elements of ",
                           element_size, " bytes, ending at byte ", header + data_bytes, ", but the file holds only ",
                           *size, " bytes (truncated file)");
        if (*size > header + data_bytes)
            raise_io_error(reader, name, *size - header - data_bytes,
                           " trailing bytes after the data: expected a file of ", header + data_bytes, " bytes, found ",
                           *size);
    }

    return visit_type(type, [&]<class T>(std::type_identity<T>) {
        return IdxArray(std::move(shape), read_elements<T>(src, count, header, name), std::string(name));
    });
}

}  // namespace detail

/// Reads an IDX array from a memory buffer holding a whole IDX file, plain or (when
/// lamina is built with zlib) gzip-compressed.
/// \param bytes the file's bytes.
/// \param name what error messages call the buffer.
/// \throws io_error naming `name`, the byte offset and expected versus found, if the bytes
///         are not exactly one well-formed IDX file.
inline IdxArray read_idx(std::span<const std::byte> bytes, std::string_view name = "<memory>") {
#if defined(LAMINA_HAVE_ZLIB)
    if (detail::is_gzip(bytes)) {
        detail::GzipSource gz(bytes, name);
        return detail::read_idx(gz, name);
    }
#endif
    detail::MemorySource mem(bytes);
    return detail::read_idx(mem, name);
}

/// Reads an IDX file, plain or gzip-compressed (recognised by its first two bytes,
/// 1F 8B, whatever its name; needs lamina built with zlib, `LAMINA_HAVE_ZLIB`).
/// The file size is checked against the header before the data is allocated.
/// \param file the path of the file.
/// \throws io_error naming the file if it cannot be read or is not exactly one
///         well-formed IDX file: the message gives the byte offset and expected versus found.
inline IdxArray read_idx(const std::filesystem::path& file) {
    const std::string name = file.string();
    std::error_code ec;
    const std::uint64_t size = std::filesystem::file_size(file, ec);
    if (ec) detail::raise_io_error(detail::reader, name, "cannot read the file: ", ec.message());
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> handle(std::fopen(name.c_str(), "rb"), &std::fclose);
    if (!handle) detail::raise_io_error(detail::reader, name, "cannot open the file: ", std::strerror(errno));

    std::byte first[2]{};
    const std::size_t got = std::fread(first, 1, 2, handle.get());
    if (detail::is_gzip(std::span(first, got))) {
        // Compressed files are small: read whole, then decompress as the data is consumed.
        std::vector<std::byte> compressed(std::max<std::uint64_t>(size, 2));
        std::memcpy(compressed.data(), first, 2);
        compressed.resize(2 + std::fread(compressed.data() + 2, 1, compressed.size() - 2, handle.get()));
        return read_idx(std::span<const std::byte>(compressed), name);
    }
    if (std::fseek(handle.get(), 0, SEEK_SET) != 0)
        detail::raise_io_error(detail::reader, name, "cannot seek: ", std::strerror(errno));
    detail::FileSource src(handle.get(), size, name);
    return detail::read_idx(src, name);
}

}  // namespace lamina::io
