// SPDX-License-Identifier: MIT
// lamina tests: .keras files' stored zip archives (io/stored_zip.hpp) are read within io::ZipLimits, as .npz ones are.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <lamina/io/stored_zip.hpp>

#include "save_files.hpp"

using lamina::test::ByteVec;
using lamina::test::LeWriter;

namespace {

namespace zip = lamina::io::zip;

ByteVec bytes_of(const std::string& s) {
    const auto b = std::as_bytes(std::span(s));
    return {b.begin(), b.end()};
}

// The message of the io_error that reading `archive` throws, or "no exception".
std::string read_error(const ByteVec& archive, const lamina::io::ZipLimits& limits = {}) {
    try {
        (void)zip::read(archive, "m.keras", "test", limits);
    } catch (const lamina::io_error& e) {
        return e.what();
    }
    return "no exception";
}

}  // namespace

TEST_CASE("Stored zip archives are read as views into their bytes, in the directory's order", "[zip][keras]") {
    const ByteVec config = bytes_of("{\"class_name\": \"Sequential\"}"), weights = bytes_of("HDF5 bytes");
    const ByteVec archive = lamina::test::zip_stored({{"config.json", config}, {"model.weights.h5", weights}});
    const std::vector<zip::Entry> entries = zip::read(archive, "m.keras", "test");
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].name == "config.json");
    CHECK(entries[1].name == "model.weights.h5");
    CHECK(ByteVec(entries[1].data.begin(), entries[1].data.end()) == weights);
    CHECK(entries[0].data.data() == archive.data() + 30 + 11);  // after the local header and name
    // What zip::write writes reads back the same.
    const std::vector<std::byte> again = zip::write(entries);
    CHECK(ByteVec(again.begin(), again.end()) == archive);
}

TEST_CASE("A stored zip archive with more entries than ZipLimits allows is refused by its directory",
          "[zip][keras][limits]") {
    const ByteVec one = bytes_of("x");
    const ByteVec five = lamina::test::zip_stored({{"a", one}, {"b", one}, {"c", one}, {"d", one}, {"e", one}});
    CHECK(read_error(five, {.max_entries = 5}) == "no exception");
    CHECK(read_error(five, {.max_entries = 4}) ==
          "test: 'm.keras': zip archive: the directory lists 5 entries, more than the 4 this reader accepts "
          "(ZipLimits::max_entries)");

    SECTION("a zip64 directory of 65,536 entries, over the default limit of 65,535") {
        // Room for 65,536 directory records of 46 bytes (zeros: none is read), then the zip64
        // end record, its locator and the end record that defers to them.
        constexpr std::uint64_t count = 65536, dir_size = 46 * count;
        LeWriter out;
        out.bytes.resize(dir_size);
        out.u32(0x06064B50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(count).u64(count).u64(dir_size).u64(0);
        out.u32(0x07064B50).u32(0).u64(dir_size).u32(1);
        out.u32(0x06054B50).u16(0).u16(0).u16(0xFFFF).u16(0xFFFF).u32(0xFFFFFFFF).u32(0xFFFFFFFF).u16(0);
        CHECK_THAT(read_error(out.bytes), Catch::Contains("the directory lists 65536 entries, more than the 65535") &&
                                              Catch::Contains("ZipLimits::max_entries"));
    }
}

TEST_CASE("65,000 stored entries are read in one pass, and a repeated name among them is refused",
          "[zip][keras][limits]") {
    std::vector<std::pair<std::string, ByteVec>> entries;
    entries.reserve(65000);
    for (int i = 0; i < 65000; ++i) entries.emplace_back(std::to_string(i), ByteVec{std::byte(i & 0xFF)});
    CHECK(zip::read(lamina::test::zip_stored(entries), "m.keras", "test").size() == 65000);
    entries.back().first = "17";
    CHECK(read_error(lamina::test::zip_stored(entries)) == "test: 'm.keras': zip archive: entry '17' appears twice");
}

TEST_CASE("A stored zip entry declaring more bytes than ZipLimits allows is refused by its declared size",
          "[zip][keras][limits]") {
    const ByteVec data = bytes_of("0123456789");
    // A terabyte declared through zip64, in an archive of a few dozen bytes.
    CHECK(read_error(lamina::test::zip64_stored("model.weights.h5", data, std::uint64_t(1) << 40)) ==
          "test: 'm.keras': zip archive: entry 'model.weights.h5' declares 1099511627776 bytes uncompressed, more "
          "than the 1073741824 this reader accepts (ZipLimits::max_total_bytes)");
    // Each entry within the limit, all of them together over it.
    const ByteVec two = lamina::test::zip_stored({{"config.json", data}, {"model.weights.h5", data}});
    CHECK(read_error(two, {.max_total_bytes = 20}) == "no exception");
    CHECK_THAT(read_error(two, {.max_total_bytes = 19}),
               Catch::Contains(
                   "the entries up to 'model.weights.h5' declare 20 bytes uncompressed, more than the 19") &&
                   Catch::Contains("in all (ZipLimits::max_total_bytes)"));
    CHECK_THAT(read_error(two, {.max_total_bytes = 9}),
               Catch::Contains("entry 'config.json' declares 10 bytes uncompressed, more than the 9"));
}

TEST_CASE("A stored zip archive whose central directory disagrees with its local headers is refused",
          "[zip][keras][errors]") {
    const ByteVec config = bytes_of("{\"a\": 1}!");
    ByteVec archive = lamina::test::zip_stored({{"config.json", config}});
    const std::size_t dir = archive.size() - 22 - 46 - 11;  // the directory record
    REQUIRE(lamina::test::le_at(archive, dir, 4) == 0x02014B50);

    SECTION("a directory that declares fewer bytes, with their CRC-32, than the local header") {
        // The directory describes the entry's first 8 bytes, and their CRC-32 matches them:
        // only the local header tells that the entry holds 9.
        lamina::test::put_le(archive, dir + 16, lamina::test::crc32_bitwise(config, 8), 4);
        lamina::test::put_le(archive, dir + 20, 8, 4);
        lamina::test::put_le(archive, dir + 24, 8, 4);
        CHECK_THAT(read_error(archive), Catch::StartsWith("test: 'm.keras': zip archive: entry 'config.json': its "
                                                          "local header at byte 0 gives 9 compressed and 9") &&
                                            Catch::Contains("the archive is inconsistent"));
    }
    SECTION("a directory whose CRC-32 is another than the local header's") {
        lamina::test::put_le(archive, dir + 16, 0x12345678, 4);
        CHECK_THAT(read_error(archive), Catch::Contains("(and another CRC-32): the archive is inconsistent"));
    }
    SECTION("a directory that lists more entries than it holds") {
        lamina::test::put_le(archive, archive.size() - 22 + 8, 2, 2);
        lamina::test::put_le(archive, archive.size() - 22 + 10, 2, 2);
        CHECK_THAT(read_error(archive),
                   Catch::Contains("the directory claims 2 entries, more than its 57 bytes can hold"));
    }
    SECTION("a deflated entry is refused, naming its method") {
        lamina::test::put_le(archive, 8, 8, 2);
        lamina::test::put_le(archive, dir + 10, 8, 2);
        CHECK(read_error(archive) ==
              "test: 'm.keras': zip archive: entry 'config.json' is compressed (method 8); only stored entries are "
              "read here");
    }
}
