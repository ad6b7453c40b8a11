// SPDX-License-Identifier: MIT
// lamina tests: the IDX reader on hand-made files of every type, rank and error.
#include <lamina/io/idx.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cstring>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "idx_files.hpp"

using lamina::io::IdxArray;
using lamina::io::IdxType;
using lamina::io::read_idx;
using namespace lamina::test;

namespace {

IdxArray read_bytes(const Bytes& bytes, std::string_view name = "buffer") {
    return read_idx(std::as_bytes(std::span(bytes)), name);
}

/// Reads `file` expecting an io_error whose message names the file and holds each of `words`.
template <class Read>
void require_io_error(Read&& read, const std::string& name, std::initializer_list<std::string> words) {
    try {
        read();
        FAIL("no io_error for " << name);
    } catch (const lamina::io_error& e) {
        const std::string message = e.what();
        INFO(message);
        CHECK(message.find(name) != std::string::npos);
        for (const auto& w : words) CHECK(message.find(w) != std::string::npos);
    }
}

void require_file_error(const std::filesystem::path& file, std::initializer_list<std::string> words) {
    require_io_error([&] { read_idx(file); }, file.string(), words);
}

/// A gzip file of a 2 x 3 short array, -32768 -1 0 1 2 32767 (made by Python's gzip module),
/// so that the gzip path is tested even in a build without zlib to write one.
const Bytes gzip_of_short_array = {0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x63, 0x60, 0xE0, 0x66,
                                   0x62, 0x60, 0x60, 0x00, 0x61, 0xE6, 0x06, 0x86, 0xFF, 0xFF, 0x81, 0x34, 0x23, 0x03,
                                   0x53, 0xFD, 0x7F, 0x00, 0xC1, 0x7F, 0x46, 0xDD, 0x18, 0x00, 0x00, 0x00};

}  // namespace

TEST_CASE("read_idx decodes every IDX type code from big-endian bytes", "[idx]") {
    TempDir dir;
    SECTION("unsigned byte") {
        const auto a = read_idx(write_file(dir / "u8", idx_header(0x08, {4}) + Bytes{0, 1, 127, 255}));
        CHECK(a.type() == IdxType::u8);
        CHECK(a.as<std::uint8_t>() == std::vector<std::uint8_t>{0, 1, 127, 255});
    }
    SECTION("signed byte, negative values included") {
        const auto a = read_idx(write_file(dir / "i8", idx_header(0x09, {4}) + Bytes{0x80, 0xFF, 0x00, 0x7F}));
        CHECK(a.type() == IdxType::i8);
        CHECK(a.as<std::int8_t>() == std::vector<std::int8_t>{-128, -1, 0, 127});
    }
    SECTION("short, negative values included") {
        const auto a = read_idx(
            write_file(dir / "i16", idx_header(0x0B, {3}) + Bytes{0x80, 0x00, 0xFF, 0xFE, 0x01, 0x02}));
        CHECK(a.type() == IdxType::i16);
        CHECK(a.as<std::int16_t>() == std::vector<std::int16_t>{-32768, -2, 258});
    }
    SECTION("int, negative values included") {
        const auto a = read_idx(write_file(dir / "i32", idx_header(0x0C, {3}) + Bytes{0xF8, 0xA4, 0x32, 0xEB, 0x80, 0,
                                                                                      0, 0, 0x7F, 0xFF, 0xFF, 0xFF}));
        CHECK(a.type() == IdxType::i32);
        CHECK(a.as<std::int32_t>() == std::vector<std::int32_t>{-123456789, std::numeric_limits<std::int32_t>::min(),
                                                                std::numeric_limits<std::int32_t>::max()});
    }
    SECTION("float") {
        // -1.5 is 0xBFC00000; 0x40490FDB is the float nearest pi.
        const auto a = read_idx(
            write_file(dir / "f32", idx_header(0x0D, {2}) + Bytes{0xBF, 0xC0, 0, 0, 0x40, 0x49, 0x0F, 0xDB}));
        CHECK(a.type() == IdxType::f32);
        CHECK(a.as<float>() == std::vector<float>{-1.5f, 3.14159274f});
    }
    SECTION("double") {
        // 1.0 is 0x3FF0000000000000; 0xC00921FB54442D18 is the double nearest -pi.
        const auto a = read_idx(
            write_file(dir / "f64", idx_header(0x0E, {2}) + Bytes{0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xC0, 0x09, 0x21, 0xFB,
                                                                  0x54, 0x44, 0x2D, 0x18}));
        CHECK(a.type() == IdxType::f64);
        CHECK(a.as<double>() == std::vector<double>{1.0, -3.141592653589793});
    }
}

TEMPLATE_TEST_CASE("read_idx round-trips floating-point IDX values bit for bit", "[idx]", float, double) {
    using T = TestType;
    using L = std::numeric_limits<T>;
    const std::vector<T> values = {T(0),     -T(0),       T(1) / T(3),  -T(2.5),       L::min(),       L::denorm_min(),
                                   L::max(), L::lowest(), L::epsilon(), L::infinity(), -L::infinity(), L::quiet_NaN()};
    const IdxArray a = read_bytes(idx_file<T>({std::uint32_t(values.size())}, values));
    const auto& got = a.as<T>();
    REQUIRE(got.size() == values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        INFO("value " << i);
        CHECK(std::memcmp(&got[i], &values[i], sizeof(T)) == 0);
    }
}

TEST_CASE("read_idx returns the shape of IDX arrays of rank 1 to 4 and rank 255", "[idx]") {
    TempDir dir;
    auto check = [&](std::initializer_list<std::uint32_t> dims) {
        std::size_t n = 1;
        for (auto d : dims) n *= d;
        std::vector<std::int32_t> values(n);
        for (std::size_t i = 0; i < n; ++i) values[i] = std::int32_t(i) - 5;
        const auto file = write_file(dir / ("rank" + std::to_string(dims.size())), idx_file(dims, values));
        const auto a = read_idx(file);
        CHECK(a.rank() == dims.size());
        CHECK(a.shape() == std::vector<std::uint64_t>(dims.begin(), dims.end()));
        CHECK(a.size() == n);
        CHECK(a.as<std::int32_t>() == values);  // row-major, as on disk
        CHECK(a.source() == file.string());
    };
    check({7});
    check({2, 3});
    check({2, 3, 4});
    check({3, 1, 2, 2});

    Bytes rank255{0, 0, 0x08, 255};
    for (int i = 0; i < 255; ++i) put_big_endian(rank255, 1, 4);
    rank255.push_back(42);
    const auto a = read_bytes(rank255);
    CHECK(a.rank() == 255);
    CHECK(a.as<std::uint8_t>() == std::vector<std::uint8_t>{42});
}

TEST_CASE("read_idx reads IDX files from memory like files", "[idx]") {
    const auto a = read_bytes(idx_file<std::int16_t>({2, 2}, {-1, 2, -3, 4}), "my buffer");
    CHECK(a.source() == "my buffer");
    CHECK(a.shape() == std::vector<std::uint64_t>{2, 2});
    CHECK(a.as<std::int16_t>() == std::vector<std::int16_t>{-1, 2, -3, 4});
}

TEST_CASE("IdxArray::as throws io_error naming the file when the IDX type differs", "[idx]") {
    const auto a = read_bytes(idx_file<float>({1}, {1.0f}), "floats.idx");
    require_io_error([&] { (void)a.as<std::uint8_t>(); }, "floats.idx", {"unsigned byte (0x08)", "float (0x0D)"});
    require_io_error([&] { (void)a.as<double>(); }, "floats.idx", {"double (0x0E)"});
}

TEST_CASE("IdxArray's constructor checks that the shape matches the IDX element count", "[idx]") {
    CHECK_NOTHROW(IdxArray({2, 3}, std::vector<float>(6)));
    CHECK_THROWS_AS(IdxArray({2, 3}, std::vector<float>(5)), std::invalid_argument);
    CHECK_THROWS_AS(IdxArray({}, std::vector<float>(1)), std::invalid_argument);
    // 2^32 * 2^32 wraps to 0 in 64 bits: must not pass as an empty array.
    CHECK_THROWS_AS(IdxArray({1ull << 32, 1ull << 32}, std::vector<float>{}), std::invalid_argument);
}

#if defined(LAMINA_HAVE_ZLIB)

TEST_CASE("read_idx decompresses gzip IDX files through zlib whatever their name", "[idx][gzip]") {
    TempDir dir;
    const std::vector<std::int32_t> values = {-7, 0, 7, 1 << 30, -(1 << 30), 5};
    const Bytes plain = idx_file<std::int32_t>({3, 2}, values);
    for (const char* name : {"data.idx.gz", "data.idx", "data.gzip"}) {
        const auto a = read_idx(write_gzip(dir / name, plain));
        CHECK(a.shape() == std::vector<std::uint64_t>{3, 2});
        CHECK(a.as<std::int32_t>() == values);
    }
    SECTION("from memory") {
        const auto a = read_bytes(gzip_of_short_array);
        CHECK(a.shape() == std::vector<std::uint64_t>{2, 3});
        CHECK(a.as<std::int16_t>() == std::vector<std::int16_t>{-32768, -1, 0, 1, 2, 32767});
    }
    SECTION("of several concatenated gzip members, as gzip itself writes them") {
        const Bytes first(plain.begin(), plain.begin() + 10), rest(plain.begin() + 10, plain.end());
        const auto file = write_file(dir / "two-members.gz", read_file(write_gzip(dir / "a.gz", first)) +
                                                                 read_file(write_gzip(dir / "b.gz", rest)));
        CHECK(read_idx(file).as<std::int32_t>() == values);
    }
    SECTION("larger than the first decompression chunk") {
        std::vector<double> big(300'000);
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = double(i) * -0.5;
        const auto a = read_idx(write_gzip(dir / "big", idx_file<double>({300, 1000}, big)));
        CHECK(a.as<double>() == big);
    }
}

TEST_CASE("read_idx reports corrupt, truncated and padded gzip IDX files", "[idx][gzip][errors]") {
    TempDir dir;
    const Bytes plain = idx_file<std::uint8_t>({2, 2}, {1, 2, 3, 4});
    const Bytes gz = read_file(write_gzip(dir / "ok.gz", plain));
    SECTION("a gzip header that promises 4 billion images allocates nothing large") {
        require_file_error(write_gzip(dir / "huge.gz", idx_header(0x08, {4'000'000'000u, 28, 28}) + Bytes{1, 2, 3, 4}),
                           {"the data ends at byte 20", "truncated"});
    }
    SECTION("trailing bytes after the decompressed data") {
        require_file_error(write_gzip(dir / "trailing.gz", plain + Bytes{9}), {"trailing bytes", "ends at byte 16"});
    }
    SECTION("a gzip stream cut short") {
        require_file_error(write_file(dir / "cut.gz", Bytes(gz.begin(), gz.end() - 6)),
                           {"gzip stream is truncated", "compressed byte"});
    }
    SECTION("a wrong CRC") {
        Bytes bad = gz;
        bad[bad.size() - 8] ^= 0xFF;  // the CRC-32 is the trailer's first 4 bytes
        require_file_error(write_file(dir / "crc.gz", bad), {"corrupt gzip data", "incorrect data check"});
    }
    SECTION("an invalid deflate block") {
        Bytes bad = gz;
        bad[10] = 0xFF;  // right after the 10-byte gzip header: BTYPE 11 is reserved
        require_file_error(write_file(dir / "block.gz", bad), {"corrupt gzip data", "invalid block type"});
    }
    SECTION("gzip data compressed twice") {
        require_file_error(write_gzip(dir / "twice.gz", Bytes(gz.begin(), gz.end())),
                           {"wrong magic number 0x1F8B08", "gzip-compressed twice"});
    }
    SECTION("from memory, naming the buffer") {
        const Bytes cut(gz.begin(), gz.end() - 6);
        require_io_error([&] { read_bytes(cut, "cut buffer"); }, "cut buffer", {"gzip stream is truncated"});
    }
}

#else

TEST_CASE("read_idx without zlib says that a gzip IDX file needs zlib", "[idx][gzip][errors]") {
    TempDir dir;
    require_file_error(write_file(dir / "data.idx", gzip_of_short_array),
                       {"wrong magic number 0x1F8B0800", "gzip-compressed", "without zlib"});
}

#endif

TEST_CASE("read_idx reports unreadable and malformed IDX files with name, offset and values", "[idx][errors]") {
    TempDir dir;
    SECTION("a missing file") { require_file_error(dir / "missing-idx3-ubyte", {"cannot read", "No such file"}); }
    SECTION("a folder instead of a file") {
        std::filesystem::create_directory(dir / "folder");
        require_file_error(dir / "folder", {"cannot read", "directory"});
    }
    SECTION("an empty file") { require_file_error(write_file(dir / "empty", {}), {"holds 0 bytes", "magic number"}); }
    SECTION("a file shorter than the magic number") {
        require_file_error(write_file(dir / "short", {0, 0, 8}), {"holds 3 bytes", "magic number"});
    }
    SECTION("a wrong magic number, printed in hex") {
        require_file_error(write_file(dir / "magic", {0x12, 0x34, 0xAB, 0x01, 0, 0, 0, 1, 0}),
                           {"wrong magic number 0x1234AB01", "expected 0x0000TTRR"});
    }
    SECTION("an unsupported type code") {
        require_file_error(write_file(dir / "type", idx_header(0x0A, {1}) + Bytes{0}),
                           {"unsupported type code 0x0A", "at byte 2", "0x08"});
    }
    SECTION("rank 0") { require_file_error(write_file(dir / "rank0", {0, 0, 0x08, 0}), {"rank 0", "byte 3"}); }
    SECTION("a header cut short") {
        const Bytes header = idx_header(0x08, {60000, 28, 28});
        require_file_error(write_file(dir / "header", Bytes(header.begin(), header.begin() + 10)),
                           {"header ends at byte 10", "rank 3", "16-byte header"});
    }
    SECTION("a dimension of zero") {
        require_file_error(write_file(dir / "zero", idx_header(0x08, {3, 0, 2})),
                           {"dimension 1 (at byte 8) is 0", "at least 1"});
    }
    SECTION("dimensions whose product overflows") {
        const std::uint32_t m = 0xFFFFFFFF;
        require_file_error(write_file(dir / "overflow4", idx_header(0x0E, {m, m, m, m})),
                           {"4294967295 x 4294967295 x 4294967295 x 4294967295", "8-byte", "overflow"});
        // 2^64 - 2^33 + 1 elements: fits 64 bits, but not as bytes of memory.
        require_file_error(write_file(dir / "overflow2", idx_header(0x08, {m, m})), {"overflow"});
        // The element count fits, times 8 bytes it does not.
        require_file_error(write_file(dir / "overflow3", idx_header(0x0E, {m, m >> 2})), {"8-byte", "overflow"});
    }
    SECTION("a 20-byte file that claims 4 billion images, checked before allocating") {
        require_file_error(write_file(dir / "huge", idx_header(0x08, {4'000'000'000u, 28, 28}) + Bytes{1, 2, 3, 4}),
                           {"3136000000000 elements", "ending at byte 3136000000016", "holds only 20 bytes",
                            "truncated"});
    }
    SECTION("data cut short") {
        require_file_error(write_file(dir / "cut", idx_header(0x0B, {5}) + Bytes{0, 1, 0, 2, 0, 3, 0}),
                           {"5 elements of 2 bytes", "ending at byte 18", "holds only 15 bytes"});
    }
    SECTION("trailing bytes after the data") {
        require_file_error(write_file(dir / "trailing", idx_header(0x08, {3}) + Bytes{1, 2, 3, 4, 5}),
                           {"2 trailing bytes", "expected a file of 11 bytes, found 13"});
    }
    SECTION("from memory, naming the buffer") {
        require_io_error(
            [] {
                read_bytes({0, 0, 0x08, 1, 0, 0, 0, 2, 7}, "cut buffer");
            },
            "cut buffer", {"holds only 9 bytes"});
        require_io_error([] { read_bytes({0xFF}); }, "buffer", {"holds 1 bytes"});
    }
}

TEST_CASE("An IDX file whose magic number is zero is said not to be an IDX file", "[idx][errors]") {
    TempDir dir;
    require_file_error(write_file(dir / "zeros", Bytes(64, 0)),
                       {"wrong magic number 0x00000000", "not an IDX file", "no type code at byte 2"});
    require_io_error([] { read_bytes({0, 0, 0, 3, 0, 0, 0, 1}); }, "buffer", {"0x00000003", "not an IDX file"});
}

TEST_CASE("A rank-255 shape is summarised in messages, not listed 255 times", "[idx][errors]") {
    Bytes header{0, 0, 0x08, 255};
    put_big_endian(header, 2, 4);
    put_big_endian(header, 3, 4);
    for (int i = 2; i < 254; ++i) put_big_endian(header, 1, 4);
    put_big_endian(header, 5, 4);
    try {
        read_bytes(header);  // the data is missing
        FAIL("no io_error");
    } catch (const lamina::io_error& e) {
        const std::string message = e.what();
        INFO(message);
        CHECK(message.find("the header promises 2 x 3 x 1 x ... x 1 x 5 (rank 255) = 30 elements") !=
              std::string::npos);
        CHECK(message.size() < 300);
    }
    CHECK(lamina::io::detail::shape_string({60000, 28, 28}) == "60000 x 28 x 28");
    CHECK(lamina::io::detail::shape_string({1, 2, 3, 4, 5, 6}) == "1 x 2 x 3 x 4 x 5 x 6");
    CHECK(lamina::io::detail::shape_string({1, 2, 3, 4, 5, 6, 7}) == "1 x 2 x 3 x ... x 6 x 7 (rank 7)");
}
