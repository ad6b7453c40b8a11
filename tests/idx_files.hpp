// SPDX-License-Identifier: MIT
// lamina tests: writes small IDX files (plain and gzip) into a temporary folder.
#pragma once

#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <unistd.h>

#if defined(LAMINA_HAVE_ZLIB)
#include <zlib.h>
#endif

namespace lamina::test {

using Bytes = std::vector<unsigned char>;

/// A fresh folder under the system's temporary folder, removed with everything in it
/// when the object goes out of scope.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("lamina-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/// Appends `value` to `out` as `bytes` big-endian bytes (written here by hand, not by the
/// reader under test).
inline void put_big_endian(Bytes& out, std::uint64_t value, int bytes) {
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(value >> shift));
}

/// An IDX header: two zero bytes, the type code, the rank, then each dimension (4 bytes).
inline Bytes idx_header(unsigned char type, std::initializer_list<std::uint32_t> dims) {
    Bytes out{0, 0, type, static_cast<unsigned char>(dims.size())};
    for (auto d : dims) put_big_endian(out, d, 4);
    return out;
}

/// A whole IDX file of the type code matching `T` holding `values` with shape `dims`.
template <class T>
Bytes idx_file(std::initializer_list<std::uint32_t> dims, const std::vector<T>& values) {
    constexpr unsigned char code = std::is_same_v<T, std::uint8_t>   ? 0x08
                                   : std::is_same_v<T, std::int8_t>  ? 0x09
                                   : std::is_same_v<T, std::int16_t> ? 0x0B
                                   : std::is_same_v<T, std::int32_t> ? 0x0C
                                   : std::is_same_v<T, float>        ? 0x0D
                                                                     : 0x0E;
    using U = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                                 std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                                    std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
    Bytes out = idx_header(code, dims);
    for (T v : values) put_big_endian(out, std::bit_cast<U>(v), int(sizeof(T)));
    return out;
}

inline Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

inline std::filesystem::path write_file(const std::filesystem::path& file, const Bytes& bytes) {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
    return file;
}

#if defined(LAMINA_HAVE_ZLIB)
/// Writes `bytes` gzip-compressed through zlib's gzopen/gzwrite.
inline std::filesystem::path write_gzip(const std::filesystem::path& file, const Bytes& bytes) {
    gzFile gz = gzopen(file.string().c_str(), "wb");
    if (!gz) throw std::runtime_error("cannot gzopen " + file.string());
    const int written = bytes.empty() ? 0 : gzwrite(gz, bytes.data(), unsigned(bytes.size()));
    if (gzclose(gz) != Z_OK || written != int(bytes.size()))
        throw std::runtime_error("cannot gzwrite " + file.string());
    return file;
}
#endif

inline Bytes read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

}  // namespace lamina::test
