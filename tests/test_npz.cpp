// SPDX-License-Identifier: MIT
// lamina tests: weights as NumPy .npz archives: save_weights, load_weights, the .npy/zip reader's errors, and NumPy
// itself.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#if defined(LAMINA_HAVE_ZLIB)
#include <zlib.h>
#endif

#include <lamina/io/npz.hpp>
#include <lamina/lamina.hpp>

#include "save_files.hpp"

using lamina::Index;
using lamina::test::ByteVec;
using lamina::test::LeWriter;
using lamina::test::SaveDir;
namespace fs = std::filesystem;

namespace {

// Dense(3, input_dim 4) + relu + Dense(2) + softmax, with weights that are exact binary
// fractions: kernel0[i][j] = 0.25 (3i + j) - 1, bias0[j] = 0.5 j, kernel1[i][j] = -0.125 (2i + j),
// bias1 = [1.5, -2.5].
template <class S>
lamina::Sequential<S> known_model() {
    lamina::Sequential<S> model{lamina::Dense(3, {.input_dim = 4}), lamina::Activation("relu"), lamina::Dense(2),
                                lamina::Activation("softmax")};
    lamina::Matrix<S> k0(4, 3), b0(1, 3), k1(3, 2), b1(1, 2);
    for (Index i = 0; i < 4; ++i)
        for (Index j = 0; j < 3; ++j) k0(i, j) = S(0.25 * double(3 * i + j) - 1);
    for (Index j = 0; j < 3; ++j) b0(0, j) = S(0.5 * double(j));
    for (Index i = 0; i < 3; ++i)
        for (Index j = 0; j < 2; ++j) k1(i, j) = S(-0.125 * double(2 * i + j));
    b1 << S(1.5), S(-2.5);
    model.layer(0).set_weights({k0, b0});
    model.layer(2).set_weights({k1, b1});
    return model;
}

// The expected weights of known_model, transformed by f, flat as parameters() lays them out.
template <class S>
lamina::Vector<S> known_parameters(const std::function<double(double)>& f) {
    const auto model = known_model<S>();
    lamina::Vector<S> p = model.parameters();
    for (Index i = 0; i < p.size(); ++i) p[i] = S(f(double(p[i])));
    return p;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const lamina::error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("unexpected exception: ") + e.what();
    }
    return "no exception";
}

// An archive of the four known arrays as float32 .npy entries with the given names.
ByteVec known_archive(const std::vector<std::string>& names, bool fortran_kernels = false, bool reversed = false) {
    const auto model = known_model<float>();
    std::vector<std::pair<std::string, ByteVec>> entries;
    std::size_t n = 0;
    for (Index l : {0, 2}) {
        const auto w = model.layer(l).get_weights();
        const auto& k = w[0];
        std::vector<float> kv;
        if (fortran_kernels) {
            for (Index j = 0; j < k.cols(); ++j)
                for (Index i = 0; i < k.rows(); ++i) kv.push_back(k(i, j));
        } else {
            kv.assign(k.data(), k.data() + k.size());
        }
        const std::string shape = "(" + std::to_string(k.rows()) + ", " + std::to_string(k.cols()) + ")";
        entries.push_back(
            {names[n++] + ".npy",
             lamina::test::npy_file("{'descr': '<f4', 'fortran_order': " +
                                        std::string(fortran_kernels ? "True" : "False") + ", 'shape': " + shape + ", }",
                                    lamina::test::f32_bytes(kv))});
        const auto& b = w[1];
        entries.push_back(
            {names[n++] + ".npy", lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                                                             std::to_string(b.cols()) + ",), }",
                                                         lamina::test::f32_bytes({b.data(), b.data() + b.size()}))});
    }
    if (reversed) std::reverse(entries.begin(), entries.end());
    return lamina::test::zip_stored(entries);
}

const std::vector<std::string> keras_names{"dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"};
const std::vector<std::string> positional{"arr_0", "arr_1", "arr_2", "arr_3"};

std::string load_bytes_error(const ByteVec& archive, const std::string& name = "w.npz") {
    SaveDir dir;
    lamina::test::write_bytes(dir / name, archive);
    auto model = known_model<float>();
    model.parameters().setZero();
    const std::string e = error_of([&] { model.load_weights(dir / name); });
    // A failed load leaves the model as it was.
    if (!model.parameters().isZero()) return "the model changed: " + e;
    return e;
}

std::string npy_error(const std::string& dict, const ByteVec& data) {
    return load_bytes_error(lamina::test::zip_stored({{"arr_0.npy", lamina::test::npy_file(dict, data)}}));
}

#if defined(LAMINA_HAVE_ZLIB)
// A zip archive of one deflated entry `name` whose data is `deflated`, with the CRC-32 and
// uncompressed size given (whether true or not) in both its local header and its directory.
ByteVec deflated_archive(const std::string& name, const ByteVec& deflated, std::uint32_t crc, std::uint64_t size) {
    ByteVec a = lamina::test::zip_stored({{name, deflated}});
    const std::size_t dir = lamina::test::le_at(a, a.size() - 6, 4);
    for (std::size_t at : {std::size_t(8), dir + 10}) lamina::test::put_le(a, at, 8, 2);  // method 8
    for (std::size_t at : {std::size_t(14), dir + 16}) lamina::test::put_le(a, at, crc, 4);
    for (std::size_t at : {std::size_t(22), dir + 24}) lamina::test::put_le(a, at, size, 4);
    return a;
}

ByteVec deflate_bytes(const ByteVec& in) {
    ByteVec out(compressBound(uLong(in.size())) + 16);
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    z.avail_in = uInt(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

#endif

bool have_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("save_weights writes a zip of .npy arrays named after the layers", "[npz][save]") {
    SaveDir dir;
    const auto model = known_model<float>();
    model.save_weights(dir / "w.npz");
    CHECK(dir.entries() == std::vector<std::string>{"w.npz"});
    const ByteVec bytes = lamina::test::read_bytes(dir / "w.npz");
    // The first local header (APPNOTE 4.3.7): signature, then at 26 the name length, at 30 the name.
    REQUIRE(bytes.size() > 200);
    CHECK(lamina::test::le_at(bytes, 0, 4) == 0x04034B50);
    CHECK(lamina::test::le_at(bytes, 8, 2) == 0);  // stored
    const std::size_t name_len = lamina::test::le_at(bytes, 26, 2);
    const std::string name(reinterpret_cast<const char*>(bytes.data() + 30), name_len);
    CHECK(name == "dense.kernel.npy");
    // The .npy preamble: magic, version 1.0, the header length, the dict padded with spaces
    // and ended by '\n' so that the data starts at a multiple of 64 bytes.
    const std::size_t npy = 30 + name_len;
    CHECK(std::string(reinterpret_cast<const char*>(bytes.data() + npy), 8) == std::string("\x93NUMPY\x01\x00", 8));
    const std::size_t header_len = lamina::test::le_at(bytes, npy + 8, 2);
    CHECK((10 + header_len) % 64 == 0);
    const std::string header(reinterpret_cast<const char*>(bytes.data() + npy + 10), header_len);
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }";
    CHECK(header.substr(0, dict.size()) == dict);
    CHECK(header.substr(dict.size()) == std::string(header_len - dict.size() - 1, ' ') + "\n");
    // Then the kernel, row-major: -1, -0.75, -0.5, ...
    for (int i = 0; i < 12; ++i) {
        const auto u = std::uint32_t(lamina::test::le_at(bytes, npy + 10 + header_len + 4 * std::size_t(i), 4));
        float v;
        std::memcpy(&v, &u, 4);
        CHECK(v == float(0.25 * i - 1));
    }
}

TEMPLATE_TEST_CASE("save_weights and load_weights round-trip every weight", "[npz]", float, double) {
    SaveDir dir;
    known_model<TestType>().save_weights(dir / "w.npz");
    lamina::Sequential<TestType> other{lamina::Dense(3, {.input_dim = 4}), lamina::Activation("relu"), lamina::Dense(2),
                                       lamina::Activation("softmax")};
    other.load_weights(dir / "w.npz");
    CHECK(other.parameters() == known_parameters<TestType>([](double v) { return v; }));
}

TEST_CASE("load_weights reads numpy.savez's arr_0, arr_1, ... and named arrays in any order", "[npz]") {
    const auto expected = known_parameters<float>([](double v) { return v; });
    SaveDir dir;
    const auto load = [&](const ByteVec& archive) {
        lamina::test::write_bytes(dir / "a.npz", archive);
        auto model = known_model<float>();
        model.parameters().setZero();
        model.load_weights(dir / "a.npz");
        return lamina::Vector<float>(model.parameters());
    };
    CHECK(load(known_archive(positional)) == expected);
    CHECK(load(known_archive(keras_names)) == expected);
    CHECK(load(known_archive(keras_names, true)) == expected);         // Fortran-order kernels
    CHECK(load(known_archive(keras_names, false, true)) == expected);  // named arrays in another order
    CHECK(load(known_archive(positional, false, true)) == expected);   // arr_3, arr_2, ... too
    // A big-endian array.
    LeWriter big;
    for (float v : {1.0f, 2.0f, 3.0f}) {
        std::uint32_t u;
        std::memcpy(&u, &v, 4);
        for (int s = 24; s >= 0; s -= 8) big.u8((u >> s) & 0xFF);
    }
    const auto npy = lamina::test::npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", big.bytes);
    const auto entry = lamina::io::decode_npy(npy, "big.npy", "b");
    CHECK(lamina::io::npy_values<float>(entry, "big.npy", "b") == std::vector<float>{1, 2, 3});
}

TEST_CASE("load_weights refuses arrays that do not fit the model, changing nothing", "[npz][errors]") {
    CHECK_THAT(load_bytes_error(lamina::test::zip_stored({})),
               Catch::Contains("holds 0 arrays (nothing), but the model has 4 (dense.kernel, dense.bias, "
                               "dense_1.kernel, dense_1.bias)"));
    auto names = keras_names;
    names[1] = "dense.bais";
    CHECK_THAT(load_bytes_error(known_archive(names)), Catch::Contains("the model has no weight 'dense.bais'"));
    names = positional;
    names[3] = "arr_7";
    CHECK_THAT(load_bytes_error(known_archive(names)), Catch::Contains("no weight 'arr_7'"));
    names = positional;
    names[2] = "dense_1.kernel";
    CHECK_THAT(load_bytes_error(known_archive(names)), Catch::Contains("mixes positional arrays"));

    // Shapes: the kernel transposed, the bias as a row.
    const ByteVec k_t = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                                               lamina::test::f32_bytes(std::vector<float>(12, 0.0f)));
    const ByteVec ok_b = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                                lamina::test::f32_bytes({0, 0, 0}));
    const ByteVec k1 = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
                                              lamina::test::f32_bytes(std::vector<float>(6, 0.0f)));
    const ByteVec b1 = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                              lamina::test::f32_bytes({0, 0}));
    const ByteVec b1_row = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
                                                  lamina::test::f32_bytes({0, 0}));
    const ByteVec k0 = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }",
                                              lamina::test::f32_bytes(std::vector<float>(12, 0.5f)));
    {
        SaveDir dir;
        lamina::test::write_bytes(dir / "t.npz",
                                  lamina::test::zip_stored(
                                      {{"arr_0.npy", k_t}, {"arr_1.npy", ok_b}, {"arr_2.npy", k1}, {"arr_3.npy", b1}}));
        auto model = known_model<float>();
        CHECK_THROWS_AS(model.load_weights(dir / "t.npz"), lamina::shape_error);
    }
    CHECK_THAT(load_bytes_error(lamina::test::zip_stored(
                   {{"arr_0.npy", k_t}, {"arr_1.npy", ok_b}, {"arr_2.npy", k1}, {"arr_3.npy", b1}})),
               Catch::Contains(
                   "array 'arr_0' (dense.kernel) has shape (3, 4), but layer 0 (Dense 'dense') expects (4, 3)"));
    CHECK_THAT(load_bytes_error(lamina::test::zip_stored(
                   {{"arr_0.npy", k0}, {"arr_1.npy", ok_b}, {"arr_2.npy", k1}, {"arr_3.npy", b1_row}})),
               Catch::Contains("'arr_3' (dense_1.bias) has shape (1, 2), but layer 2 (Dense 'dense_1') expects (2,)"));

    // Dtypes: float64 into a float model, integers.
    LeWriter doubles;
    for (int i = 0; i < 2; ++i) doubles.f64(0);
    const ByteVec b1_f8 = lamina::test::npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                                 doubles.bytes);
    CHECK_THAT(load_bytes_error(lamina::test::zip_stored(
                   {{"arr_0.npy", k0}, {"arr_1.npy", ok_b}, {"arr_2.npy", k1}, {"arr_3.npy", b1_f8}})),
               Catch::Contains("array 'arr_3' has dtype '<f8', but the model is of float32 ('<f4')") &&
                   Catch::Contains("astype(numpy.float32)"));
    const ByteVec b1_i4 = lamina::test::npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                                                 LeWriter{}.u32(1).u32(2).bytes);
    CHECK_THAT(load_bytes_error(lamina::test::zip_stored(
                   {{"arr_0.npy", k0}, {"arr_1.npy", ok_b}, {"arr_2.npy", k1}, {"arr_3.npy", b1_i4}})),
               Catch::Contains("dtype '<i4'"));
}

TEST_CASE("Malformed archives and arrays are io_errors naming the file and the problem", "[npz][errors]") {
    const ByteVec good = known_archive(positional);
    CHECK_THAT(load_bytes_error(good), Catch::Contains("no exception"));
    CHECK_THAT(load_bytes_error(LeWriter{}.raw("not a zip file at all, just words.").bytes),
               Catch::Contains("lamina::io::read_npz: '") && Catch::Contains("w.npz': not a zip archive"));
    CHECK_THAT(load_bytes_error(lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                                                       lamina::test::f32_bytes({1}))),
               Catch::Contains("single .npy array"));
    SECTION("every truncation") {
        for (std::size_t n = 0; n < good.size(); ++n) {
            const ByteVec cut(good.begin(), good.begin() + std::ptrdiff_t(n));
            const std::string e = error_of([&] { (void)lamina::io::decode_npz(cut, "cut.npz"); });
            CAPTURE(n, e);
            REQUIRE_THAT(e, Catch::StartsWith("lamina::io::read_npz: 'cut.npz': "));
        }
    }
    SECTION("a flipped data byte fails the CRC-32") {
        ByteVec bad = good;
        bad[30 + 9 + 64 + 2] ^= std::byte{1};  // in arr_0's first float
        CHECK_THAT(load_bytes_error(bad), Catch::Contains("entry 'arr_0.npy' at byte 39 is damaged: CRC-32 mismatch"));
    }
    SECTION("entries that are not plain .npy arrays") {
        CHECK_THAT(load_bytes_error(lamina::test::zip_stored({{"notes.txt", LeWriter{}.raw("hi").bytes}})),
                   Catch::Contains("entry 'notes.txt' is not a .npy array"));
        const ByteVec one = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                                                   lamina::test::f32_bytes({1}));
        CHECK_THAT(load_bytes_error(lamina::test::zip_stored({{"a.npy", one}, {"a.npy", one}})),
                   Catch::Contains("entry 'a.npy' appears twice"));
        ByteVec method = lamina::test::zip_stored({{"a.npy", one}});
        const std::size_t dir = lamina::test::le_at(method, method.size() - 6, 4);
        lamina::test::put_le(method, dir + 10, 12, 2);  // bzip2
        CHECK_THAT(load_bytes_error(method), Catch::Contains("compression method 12"));
        ByteVec encrypted = lamina::test::zip_stored({{"a.npy", one}});
        lamina::test::put_le(encrypted, dir + 8, 1, 2);
        CHECK_THAT(load_bytes_error(encrypted), Catch::Contains("entry 'a.npy' is encrypted"));
    }
    SECTION("malformed .npy headers and data") {
        const ByteVec f3 = lamina::test::f32_bytes({1, 2, 3});
        CHECK_THAT(npy_error("{'descr': '<f4', 'shape': (3,), }", f3), Catch::Contains("lacks 'fortran_order'"));
        CHECK_THAT(npy_error("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }", f3),
                   Catch::Contains("expected True or False"));
        CHECK_THAT(npy_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", f3),
                   Catch::Contains("structured dtypes are not supported"));
        CHECK_THAT(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", f3),
                   Catch::Contains("unexpected or repeated key 'extra'"));
        CHECK_THAT(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f3),
                   Catch::Contains("needs 16 bytes of data") && Catch::Contains("(truncated)"));
        CHECK_THAT(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f3),
                   Catch::Contains("(trailing bytes)"));
        CHECK_THAT(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", f3),
                   Catch::Contains("overflows"));
        CHECK_THAT(npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", f3),
                   Catch::Contains("needs 4000000000000 bytes of data") && Catch::Contains("(truncated)"));
        CHECK_THAT(npy_error("{'descr': '<U10', 'fortran_order': False, 'shape': (3,), }", f3),
                   Catch::Contains("unsupported dtype '<U10'"));
        ByteVec v4 = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f3);
        v4[6] = std::byte{4};
        CHECK_THAT(load_bytes_error(lamina::test::zip_stored({{"arr_0.npy", v4}})),
                   Catch::Contains(".npy format version 4.0 at byte 6"));
    }
}

TEST_CASE("load_weights reads zip64 directories", "[npz]") {
    // One array, its sizes and offset moved into a zip64 extra field, with zip64 end records.
    const ByteVec npy = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                               lamina::test::f32_bytes({7, 8}));
    const auto entries = lamina::io::decode_npz(lamina::test::zip64_stored("w.npy", npy, npy.size()), "zip64.npz");
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].name == "w");
    CHECK(lamina::io::npy_values<float>(entries[0].array, "zip64.npz", "w") == std::vector<float>{7, 8});
}

#if defined(LAMINA_HAVE_ZLIB)
TEST_CASE("load_weights inflates deflated entries and rejects corrupt ones", "[npz][zlib]") {
    const ByteVec npy = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                               lamina::test::f32_bytes({1, 2, 3}));
    // Raw deflate (no zlib header), as zip stores it.
    ByteVec deflated(compressBound(uLong(npy.size())) + 16);
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(npy.data()));
    z.avail_in = uInt(npy.size());
    z.next_out = reinterpret_cast<Bytef*>(deflated.data());
    z.avail_out = uInt(deflated.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    deflated.resize(z.total_out);
    deflateEnd(&z);

    const auto archive = [&](const ByteVec& data, std::uint64_t size) {
        return deflated_archive("b.npy", data, lamina::test::crc32_bitwise(npy, npy.size()), size);
    };
    const auto entries = lamina::io::decode_npz(archive(deflated, npy.size()), "d.npz");
    REQUIRE(entries.size() == 1);
    CHECK(lamina::io::npy_values<float>(entries[0].array, "d.npz", "b") == std::vector<float>{1, 2, 3});

    const auto fails = [&](const ByteVec& a) { return error_of([&] { (void)lamina::io::decode_npz(a, "d.npz"); }); };
    // Declared sizes the .npy header disagrees with are refused from the header (see below);
    // streams that hold fewer or more bytes than a header that agrees, from the inflated count.
    const ByteVec short_npy(npy.begin(), npy.end() - 4), long_npy = LeWriter{npy}.f32(4).bytes;
    CHECK_THAT(fails(archive(deflate_bytes(short_npy), npy.size())),
               Catch::Contains("holds " + std::to_string(npy.size() - 4) + " bytes, but the directory gives " +
                               std::to_string(npy.size())));
    CHECK_THAT(fails(archive(deflate_bytes(long_npy), npy.size())),
               Catch::Contains("holds more than the " + std::to_string(npy.size()) + " bytes the directory gives"));
    CHECK_THAT(fails(archive(deflated, std::uint64_t(1) << 31)), Catch::Contains("d.npz"));  // no 2 GiB allocation
    ByteVec corrupt = deflated;
    corrupt[0] ^= std::byte{0xFF};
    CHECK_THAT(fails(archive(corrupt, npy.size())), Catch::Contains("entry 'b.npy'"));
    CHECK_THAT(fails(archive(ByteVec(deflated.begin(), deflated.begin() + 10), npy.size())),
               Catch::Contains("truncated"));
}
#endif

TEST_CASE("save_weights into a missing folder throws io_error and leaves no file", "[npz][errors]") {
    SaveDir dir;
    const fs::path file = dir / "missing" / "w.npz";
    CHECK_THROWS_WITH(known_model<float>().save_weights(file),
                      Catch::Contains("Sequential.save_weights: cannot write '" + file.string() + "'"));
    CHECK(dir.entries().empty());
    CHECK_THAT(error_of([&] { known_model<float>().load_weights(file); }),
               Catch::Contains("lamina::io::read_npz: '" + file.string() + "': cannot read the file"));
}

TEST_CASE("Weights go to NumPy and come back from numpy.savez and numpy.savez_compressed", "[npz][numpy]") {
    if (!have_numpy()) {
        WARN("skipped: /usr/bin/python3 with numpy is not available (Debian: apt-get install python3-numpy)");
        return;
    }
    SaveDir dir;
    known_model<float>().save_weights(dir / "lamina.npz");
    {
        std::ofstream script(dir / "check.py");
        script << R"(import sys
import numpy as np
d = np.load(sys.argv[1])
names = ['dense.kernel', 'dense.bias', 'dense_1.kernel', 'dense_1.bias']
assert list(d.files) == names, d.files
k0, b0, k1, b1 = [d[n] for n in names]
for a in (k0, b0, k1, b1):
    assert a.dtype == np.float32 and a.flags['C_CONTIGUOUS'], a.dtype
assert k0.shape == (4, 3) and b0.shape == (3,) and k1.shape == (3, 2) and b1.shape == (2,)
assert (k0 == 0.25 * np.arange(12, dtype=np.float32).reshape(4, 3) - 1).all(), k0
assert (b0 == 0.5 * np.arange(3)).all(), b0
assert (k1 == -0.125 * np.arange(6).reshape(3, 2)).all(), k1
assert (b1 == np.array([1.5, -2.5])).all(), b1
arrays = [k0, b0, k1, b1]
np.savez(sys.argv[2], *[a * 2 for a in arrays])
np.savez_compressed(sys.argv[3], **{n: np.asfortranarray(a + 1) for n, a in zip(names, arrays)})
np.savez(sys.argv[4], *[a.astype(np.float64) - 3 for a in arrays])
np.savez(sys.argv[5], *[a.astype('>f4') for a in arrays])
print('numpy ok')
)";
    }
    const std::string command = "/usr/bin/python3 " + (dir / "check.py").string() + " " +
                                (dir / "lamina.npz").string() + " " + (dir / "twice.npz").string() + " " +
                                (dir / "plus_one.npz").string() + " " + (dir / "f64.npz").string() + " " +
                                (dir / "big.npz").string();
    REQUIRE(std::system(command.c_str()) == 0);

    auto model = known_model<float>();
    model.load_weights(dir / "twice.npz");
    CHECK(model.parameters() == known_parameters<float>([](double v) { return 2 * v; }));
#if defined(LAMINA_HAVE_ZLIB)
    model.load_weights(dir / "plus_one.npz");
    CHECK(model.parameters() == known_parameters<float>([](double v) { return v + 1; }));
#else
    CHECK_THAT(error_of([&] { model.load_weights(dir / "plus_one.npz"); }), Catch::Contains("without zlib"));
#endif
    model.load_weights(dir / "big.npz");
    CHECK(model.parameters() == known_parameters<float>([](double v) { return v; }));
    CHECK_THAT(error_of([&] { model.load_weights(dir / "f64.npz"); }),
               Catch::Contains("dtype '<f8', but the model is of float32"));
    auto model64 = known_model<double>();
    model64.load_weights(dir / "f64.npz");
    CHECK(model64.parameters() == known_parameters<double>([](double v) { return v - 3; }));
}

TEST_CASE("Archives with more entries or declared bytes than the limits allow are refused by their directory",
          "[npz][errors][limits]") {
    const ByteVec one = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                               lamina::test::f32_bytes({1, 2}));
    const ByteVec two = lamina::test::zip_stored({{"a.npy", one}, {"b.npy", one}});
    const auto fails = [](const ByteVec& a, const lamina::io::ZipLimits& limits) {
        return error_of([&] { (void)lamina::io::decode_npz(a, "l.npz", limits); });
    };
    CHECK(fails(two, {}) == "no exception");
    CHECK_THAT(fails(two, {.max_entries = 1}),
               Catch::Contains("'l.npz': the directory lists 2 entries, more than the 1 this reader accepts"));
    CHECK_THAT(fails(two, {.max_total_bytes = one.size()}),
               Catch::Contains("the entries up to 'b.npy' declare " + std::to_string(2 * one.size()) + " bytes"));
    CHECK_THAT(fails(two, {.max_total_bytes = one.size() - 1}),
               Catch::Contains("entry 'a.npy' declares " + std::to_string(one.size()) + " bytes uncompressed"));

    SECTION("a stored entry's local header must agree with the directory") {
        ByteVec bad = lamina::test::zip_stored({{"a.npy", one}});
        lamina::test::put_le(bad, 22, one.size() + 1, 4);  // the local uncompressed size
        CHECK_THAT(fails(bad, {}), Catch::Contains("entry 'a.npy': its local header at byte 0 gives") &&
                                       Catch::Contains("inconsistent"));
    }
}

TEST_CASE("65,000 arrays are read in one pass and a repeated name among them is found", "[npz][limits]") {
    const ByteVec one = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                                               lamina::test::f32_bytes({1}));
    std::vector<std::pair<std::string, ByteVec>> entries;
    entries.reserve(65000);
    for (int i = 0; i < 65000; ++i) entries.push_back({"arr_" + std::to_string(i) + ".npy", one});
    const auto read = lamina::io::decode_npz(lamina::test::zip_stored(entries), "many.npz");
    REQUIRE(read.size() == 65000);
    CHECK(read.back().name == "arr_64999");
    entries.back().first = "arr_7.npy";
    CHECK_THAT(error_of([&] { (void)lamina::io::decode_npz(lamina::test::zip_stored(entries), "many.npz"); }),
               Catch::Contains("entry 'arr_7.npy' appears twice"));
}

#if defined(LAMINA_HAVE_ZLIB)
TEST_CASE("A deflated entry that declares a gigabyte is refused before anything is inflated", "[npz][errors][limits]") {
    // 1.5 GB declared. With the compressed bytes deflate needs for that much (1/1032 of it),
    // the default limit of 1 GiB refuses it; with fewer, no deflate stream could hold it.
    const std::uint64_t declared = 1'500'000'000;
    const ByteVec head = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                                                    std::to_string((declared - 64) / 4) + ",), }",
                                                {});
    ByteVec padded = deflate_bytes(head);
    padded.resize(std::size_t(declared / lamina::io::deflate_max_ratio + 1));
    CHECK_THAT(error_of([&] { (void)lamina::io::decode_npz(deflated_archive("big.npy", padded, 0, declared), "b"); }),
               Catch::Contains("entry 'big.npy' declares 1500000000 bytes uncompressed, more than the 1073741824"));
    const ByteVec small = deflate_bytes(head);
    CHECK_THAT(error_of([&] { (void)lamina::io::decode_npz(deflated_archive("big.npy", small, 0, declared), "b"); }),
               Catch::Contains("entry 'big.npy' declares 1500000000 bytes from " + std::to_string(small.size()) +
                               " deflated bytes: deflate expands at most 1032 times"));
    // load_weights allows what its model holds: 8 bytes a weight and 64 MiB for headers.
    const std::uint64_t model_bytes = 200'000'000;
    ByteVec mid = deflate_bytes(head);
    mid.resize(std::size_t(model_bytes / lamina::io::deflate_max_ratio + 1));
    CHECK_THAT(load_bytes_error(deflated_archive("arr_0.npy", mid, 0, model_bytes)),
               Catch::Contains("entry 'arr_0.npy' declares 200000000 bytes uncompressed, more than the " +
                               std::to_string(8 * known_model<float>().parameters().size() + (64 << 20))));
}

TEST_CASE("A deflated entry's .npy shape must need exactly its declared size, checked from its header alone",
          "[npz][errors][limits]") {
    const ByteVec npy = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                               lamina::test::f32_bytes({1, 2, 3}));
    const std::uint32_t crc = lamina::test::crc32_bitwise(npy, npy.size());
    const auto fails = [](const ByteVec& a) { return error_of([&] { (void)lamina::io::decode_npz(a, "s.npz"); }); };
    CHECK(fails(deflated_archive("a.npy", deflate_bytes(npy), crc, npy.size())) == "no exception");
    // The directory declares 100 more bytes than the shape needs: refused from the header,
    // not after inflating.
    CHECK_THAT(fails(deflated_archive("a.npy", deflate_bytes(npy), crc, npy.size() + 100)),
               Catch::Contains(
                   "entry 'a.npy': its .npy header and shape (3,) of '<f4' need 128 + 12 bytes, but the zip "
                   "directory declares 240"));
    // A header claiming (2^30,) floats in a small entry.
    const ByteVec liar = lamina::test::npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }",
                                                lamina::test::f32_bytes({1, 2, 3}));
    CHECK_THAT(fails(deflated_archive("b.npy", deflate_bytes(liar), crc, liar.size())),
               Catch::Contains("need 128 + 4294967296 bytes"));
    // An over-long .npy header is refused by its length.
    ByteVec long_header = npy;
    lamina::test::put_le(long_header, 6, 2, 1);  // version 2.0: a 4-byte header length
    long_header.insert(long_header.begin() + 10, {std::byte{0}, std::byte{0}});
    lamina::test::put_le(long_header, 8, 1 << 20, 4);
    CHECK_THAT(fails(deflated_archive("c.npy", deflate_bytes(long_header), crc, long_header.size())),
               Catch::Contains("the .npy header length 1048576 at byte 8 is over the 65536 bytes lamina reads"));
}
#endif
