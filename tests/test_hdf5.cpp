// SPDX-License-Identifier: MIT
// lamina tests: the HDF5 reader on h5py's files (tests/keras/, written by make_fixtures.py):
// values, Keras's layouts, refused features, every truncation and flipped byte, and h5py itself.
#include <catch2/catch.hpp>

#include <cstdint>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <lamina/io/file.hpp>
#include <lamina/io/hdf5.hpp>
#include <lamina/io/hdf5_writer.hpp>
#include <lamina/io/stored_zip.hpp>

namespace fs = std::filesystem;
using lamina::io::hdf5::Array;
using lamina::io::hdf5::File;
using lamina::io::hdf5::Kind;
using lamina::io::hdf5::Object;

namespace {

fs::path fixture(const std::string& name) { return fs::path(LAMINA_SOURCE_DIR) / "tests" / "keras" / name; }

std::vector<std::byte> fixture_bytes(const std::string& name) { return lamina::io::read_file(fixture(name), "test"); }

const Object& at(const File& f, const std::string& path) {
    const Object* o = f.root().find(path);
    INFO(path);
    REQUIRE(o != nullptr);
    return *o;
}

std::string parse_error(const std::vector<std::byte>& bytes, const std::string& name) {
    try {
        (void)File::parse(bytes, name);
    } catch (const lamina::io_error& e) {
        return e.what();
    }
    return "";
}

std::string read_error(const std::string& name) {
    try {
        (void)File::read(fixture(name));
    } catch (const lamina::io_error& e) {
        return e.what();
    }
    return "";
}

// How many damaged copies of a file failed to parse.
struct Damage {
    std::size_t cuts = 0, flips = 0;
};

// Parses every truncation of `bytes` (named "cut.h5") and every copy with one byte flipped by
// 0x01, 0x80 or 0xFF ("flipped.h5"): each either fails with an io_error that names it, or
// reads and is handed to `check(file, cut)`, `cut` telling which kind it is.
template <class Check>
Damage parse_damaged(const std::vector<std::byte>& bytes, Check&& check) {
    Damage failed;
    const auto parse = [&](const std::vector<std::byte>& damaged, bool cut) {
        const std::string name = cut ? "cut.h5" : "flipped.h5";
        try {
            const File f = File::parse(damaged, name);
            check(f, cut);
        } catch (const lamina::io_error& e) {
            ++(cut ? failed.cuts : failed.flips);
            REQUIRE_THAT(std::string(e.what()), Catch::StartsWith("lamina::io::hdf5: '" + name + "': "));
        }
    };
    for (std::size_t n = 0; n < bytes.size(); ++n)
        parse(std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)), true);
    for (std::size_t i = 0; i < bytes.size(); ++i)
        for (const std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xFF}}) {
            std::vector<std::byte> flipped = bytes;
            flipped[i] ^= mask;
            parse(flipped, false);
        }
    return failed;
}

}  // namespace

TEST_CASE("HDF5 reader reads h5py's datasets of every rank and type", "[hdf5]") {
    const File f = File::read(fixture("types.h5"));
    for (int rank = 0; rank <= 4; ++rank) {
        const Object& d = at(f, "f32_rank" + std::to_string(rank));
        CHECK_FALSE(d.is_group);
        CHECK(d.data.kind == Kind::floating);
        CHECK(d.data.item_size == 4);
        std::vector<std::uint64_t> shape;
        std::uint64_t n = 1;
        for (int i = 0; i < rank; ++i) {
            shape.push_back(static_cast<std::uint64_t>(2 + i));
            n *= static_cast<std::uint64_t>(2 + i);
        }
        CHECK(d.data.shape == shape);
        const std::vector<float> v = d.data.values<float>();
        REQUIRE(v.size() == n);
        for (std::size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<float>(i) * 0.25f - 1.0f);
    }
    const std::vector<double> f64 = at(f, "f64").data.values<double>();
    REQUIRE(f64.size() == 6);
    for (std::size_t i = 0; i < 6; ++i) CHECK(f64[i] == static_cast<double>(i) / 3.0);
    CHECK(at(f, "f64").attribute("unit")->strings == std::vector<std::string>{"thirds"});
    CHECK(at(f, "i64").data.values<std::int64_t>() == std::vector<std::int64_t>{-5, 0, std::int64_t{1} << 40});
    CHECK(at(f, "i32").data.values<std::int64_t>() == std::vector<std::int64_t>{-7, 7});
    CHECK(at(f, "u8").data.values<int>() == std::vector<int>{0, 200, 255});
    CHECK(at(f, "empty").data.shape == std::vector<std::uint64_t>{0, 3});
    CHECK(at(f, "empty").data.values<float>().empty());
}

TEST_CASE("HDF5 reader reads h5py's attributes: strings, arrays, empty and null", "[hdf5]") {
    const File f = File::read(fixture("types.h5"));
    const Object& root = f.root();
    REQUIRE(root.attribute("vlen"));
    CHECK(root.attribute("vlen")->variable_length);
    CHECK(root.attribute("vlen")->strings == std::vector<std::string>{"a variable-length string, \xc3\xbcn\xc3\xaf"
                                                                      "code"});
    CHECK(root.attribute("vlen_array")->strings == std::vector<std::string>{"one", "two", "three"});
    CHECK_FALSE(root.attribute("fixed")->variable_length);
    CHECK(root.attribute("fixed")->strings == std::vector<std::string>{"dense", "dropout", "dense_1"});
    CHECK(root.attribute("ints")->values<int>() == std::vector<int>{1, -2, 3});
    CHECK(root.attribute("float")->shape.empty());
    CHECK(root.attribute("float")->values<double>() == std::vector<double>{0.5});
    CHECK(root.attribute("empty_f64")->kind == Kind::floating);
    CHECK(root.attribute("empty_f64")->shape == std::vector<std::uint64_t>{0});
    CHECK(root.attribute("empty_f64")->element_count() == 0);
    CHECK(root.attribute("null")->null);
    CHECK(root.attribute("null")->element_count() == 0);
    CHECK(root.attribute("missing") == nullptr);
}

TEST_CASE("HDF5 reader reads Keras 3's weights layout, members in the file's order", "[hdf5]") {
    const File f = File::read(fixture("keras3.weights.h5"));
    const Object& vars = at(f, "layers/dense/vars");
    REQUIRE(vars.members.size() == 2);
    const Object& kernel = at(f, "/layers/dense/vars/0");
    CHECK(kernel.path == "/layers/dense/vars/0");
    CHECK(kernel.data.shape == std::vector<std::uint64_t>{4, 3});
    const std::vector<float> k = kernel.data.values<float>();
    for (std::size_t i = 0; i < k.size(); ++i) CHECK(k[i] == static_cast<float>(i) / 8.0f - 0.5f);
    CHECK(at(f, "layers/dropout/vars").members.empty());
    // 14 optimizer variables: h5py's (byte-wise) order puts 10 before 2.
    const Object& opt = at(f, "optimizer/vars");
    REQUIRE(opt.members.size() == 14);
    CHECK(opt.members[2].name == "10");
    CHECK(at(f, "optimizer/vars/0").data.values<std::int64_t>() == std::vector<std::int64_t>{7});
    CHECK(at(f, "optimizer/vars/13").data.values<float>() == std::vector<float>{0.013f, 0.013f});
}

TEST_CASE("HDF5 reader reads a group whose B-tree has two levels", "[hdf5]") {
    const File f = File::read(fixture("deep_btree.h5"));
    const Object& vars = at(f, "vars");
    REQUIRE(vars.members.size() == 200);
    for (int i = 0; i < 200; ++i) {
        const Object& d = at(f, "vars/" + std::to_string(i));
        CHECK(d.data.values<int>() == std::vector<int>{i % 100});
    }
    for (std::size_t i = 1; i < vars.members.size(); ++i) CHECK(vars.members[i - 1].name < vars.members[i].name);
}

TEST_CASE("HDF5 reader reads legacy .h5 attributes: layer_names, weight_names, nested groups", "[hdf5]") {
    const File f = File::read(fixture("legacy_keras2.h5"));
    CHECK(at(f, "model_weights").attribute("layer_names")->strings ==
          std::vector<std::string>{"dense", "dropout", "dense_1", "dense_2"});
    CHECK(at(f, "model_weights/dense").attribute("weight_names")->strings ==
          std::vector<std::string>{"dense/kernel:0", "dense/bias:0"});
    CHECK(at(f, "model_weights/dropout").attribute("weight_names")->element_count() == 0);
    CHECK(at(f, "model_weights/dense/dense/bias:0").data.values<float>() == std::vector<float>{0.1f, 0.2f, 0.3f});
    REQUIRE(f.root().attribute("model_config"));
    CHECK(f.root().attribute("model_config")->strings.at(0).starts_with("{\"class_name\": \"Sequential\""));
    const File nested = File::read(fixture("legacy_nested.h5"));
    CHECK(at(nested, "model_weights/dense_2/sequential_4/dense_2/kernel").data.shape ==
          std::vector<std::uint64_t>{5, 2});
}

TEST_CASE("HDF5 reader refuses what it does not read, naming the file, object and feature", "[hdf5][errors]") {
    CHECK_THAT(read_error("refused_lzf.h5"),
               Catch::Contains("refused_lzf.h5': /layers/dense/vars/0: chunked storage with filter 32000 is not "
                               "supported; only filters 1 (deflate) and 2 (shuffle) are read"));
    CHECK_THAT(read_error("refused_fletcher32.h5"),
               Catch::Contains("/x: chunked storage with filter 3 (fletcher32) is not supported"));
    CHECK_THAT(read_error("refused_latest.h5"), Catch::Contains("superblock version 3"));
    CHECK_THAT(read_error("refused_softlink.h5"), Catch::Contains("/: soft link 'y' is not supported"));
    CHECK_THAT(parse_error({}, "empty.h5"), Catch::Contains("'empty.h5': /: not an HDF5 file"));
    CHECK_THAT(read_error("no-such-file.h5"), Catch::Contains("no-such-file.h5"));
}

TEST_CASE("HDF5 reader: a file that holds itself is an error, not a loop", "[hdf5][errors]") {
    // Point the only member's object header address at the root's own header: the group
    // would contain itself.
    std::vector<std::byte> bytes = fixture_bytes("small.h5");
    const auto u64 = [&](std::size_t at) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<unsigned>(bytes[at + i])) << (8 * i);
        return v;
    };
    const std::uint64_t root_header = u64(56 + 8);
    // Find the root's symbol table node ("SNOD") and its first entry's header address.
    std::size_t snod = 0;
    for (std::size_t i = 0; i + 4 < bytes.size(); ++i)
        if (std::memcmp(bytes.data() + i, "SNOD", 4) == 0) {
            snod = i;
            break;
        }
    REQUIRE(snod != 0);
    for (std::size_t i = 0; i < 8; ++i) bytes[snod + 8 + 8 + i] = std::byte((root_header >> (8 * i)) & 0xFF);
    CHECK_THAT(parse_error(bytes, "cycle.h5"), Catch::Contains("is reached twice"));
}

TEST_CASE("HDF5 reader: every truncation and every flipped byte is an io_error or a read", "[hdf5][errors]") {
    const std::vector<std::byte> bytes = fixture_bytes("small.h5");
    REQUIRE_NOTHROW(File::parse(bytes, "small.h5"));
    const Damage failed = parse_damaged(bytes, [](const File& f, bool) { (void)f.root().find("layers/dense/vars/0"); });
    // h5py reserves space it does not fill (B-tree nodes are written at full size), so some
    // cuts near the end still read; most do not.
    CHECK(failed.cuts > bytes.size() / 2);
}

#if defined(LAMINA_HAVE_ZLIB)

TEST_CASE("HDF5 reader reads h5py's chunked datasets through deflate and shuffle", "[hdf5][chunked]") {
    const File f = File::read(fixture("gzip.h5"));
    CHECK(at(f, "layers/dense/vars/0").data.values<float>() == std::vector<float>(16, 1.0f));
    // (5, 7) in chunks of (2, 3): the last row and column of chunks stick out of the dataset.
    const Array& g = at(f, "gzip_f32").data;
    CHECK(g.shape == std::vector<std::uint64_t>{5, 7});
    const std::vector<float> gv = g.values<float>();
    REQUIRE(gv.size() == 35);
    for (std::size_t i = 0; i < 35; ++i) CHECK(gv[i] == static_cast<float>(i) / 4 - 3);
    const std::vector<double> s = at(f, "shuffle_gzip_f64").data.values<double>();
    REQUIRE(s.size() == 24);
    for (std::size_t i = 0; i < 24; ++i) CHECK(s[i] == Approx(std::sin(static_cast<double>(i))).epsilon(1e-15));
    const std::vector<std::int64_t> n = at(f, "shuffle_i64").data.values<std::int64_t>();
    REQUIRE(n.size() == 10);
    for (std::size_t i = 0; i < 10; ++i) CHECK(n[i] == static_cast<std::int64_t>(i) * -123456789);
    const std::vector<std::int64_t> p = at(f, "plain_i32").data.values<std::int64_t>();
    REQUIRE(p.size() == 24);
    for (std::size_t i = 0; i < 24; ++i) CHECK(p[i] == static_cast<std::int64_t>(i));
    // 300 one-element chunks: a chunk B-tree of two levels.
    const std::vector<float> m = at(f, "many_chunks").data.values<float>();
    REQUIRE(m.size() == 300);
    for (std::size_t i = 0; i < 300; ++i) CHECK(m[i] == static_cast<float>(i) * 0.5f);
    const Array& r4 = at(f, "rank4").data;
    CHECK(r4.shape == std::vector<std::uint64_t>{2, 3, 4, 5});
    const std::vector<float> rv = r4.values<float>();
    REQUIRE(rv.size() == 120);
    for (std::size_t i = 0; i < rv.size(); ++i) CHECK(rv[i] == static_cast<float>(i));
    CHECK(at(f, "strings").data.strings == std::vector<std::string>{"one", "two", "three", "four", "five"});
    CHECK(at(f, "zeros").data.values<float>() == std::vector<float>(64 * 64, 0.0f));
}

TEST_CASE("HDF5 reader: every truncation and flipped byte of a chunked file is an io_error or a read",
          "[hdf5][chunked][errors]") {
    const std::vector<std::byte> bytes = fixture_bytes("small_gzip.h5");
    const File good = File::parse(bytes, "small_gzip.h5");
    const std::vector<float> values = at(good, "x").data.values<float>();
    CHECK(values == std::vector<float>{1.5f, -2.0f, 0.25f, 4.0f, 8.0f, -0.5f});
    const Damage failed = parse_damaged(bytes, [&](const File& f, bool cut) {
        if (cut) {
            // A cut that still reads must read the same values (h5py leaves room unused).
            CHECK(at(f, "x").data.values<float>() == values);
            return;
        }
        const Object* x = f.root().find("x");
        if (x && !x->is_group) CHECK(x->data.bytes.size() == x->data.element_count() * x->data.item_size);
    });
    CHECK(failed.flips > 0);
}

TEST_CASE("HDF5 reader checks a chunked dataset's declared sizes before it inflates", "[hdf5][chunked][errors]") {
    const std::vector<std::byte> bytes = fixture_bytes("small_gzip.h5");
    // /x's dataspace message: version 1, rank 2, ..., then the dimensions (2, 3) as 8-byte
    // lengths, 8 bytes after the version.
    std::size_t dims = 0;
    for (std::size_t i = 8; i + 16 <= bytes.size(); ++i) {
        std::uint64_t a = 0, b = 0;
        std::memcpy(&a, bytes.data() + i, 8);
        std::memcpy(&b, bytes.data() + i + 8, 8);
        if (a == 2 && b == 3 && std::to_integer<int>(bytes[i - 8]) == 1 && std::to_integer<int>(bytes[i - 7]) == 2) {
            dims = i;
            break;
        }
    }
    REQUIRE(dims != 0);
    // (2^40, 3): far more than the file's chunks could hold, refused before any allocation.
    std::vector<std::byte> huge = bytes;
    const std::uint64_t big = std::uint64_t{1} << 40;
    std::memcpy(huge.data() + dims, &big, 8);
    CHECK_THAT(parse_error(huge, "huge.h5"), Catch::Contains("'huge.h5': /x: "));
    // (3, 3): the chunks no longer cover the dataset.
    std::vector<std::byte> more = bytes;
    const std::uint64_t rows = 3;
    std::memcpy(more.data() + dims, &rows, 8);
    CHECK_THAT(parse_error(more, "more.h5"), Catch::Contains("/x: chunked storage holds 4 of the dataset's 6 chunks"));
}

#else

TEST_CASE("HDF5 reader refuses deflated chunks without zlib, naming the filter", "[hdf5][chunked][errors]") {
    CHECK_THAT(read_error("gzip.h5"), Catch::Contains("chunked storage with filter 1 (deflate) needs zlib"));
}

#endif

TEST_CASE("HDF5 reader's values equal h5py's for every fixture", "[hdf5][h5py]") {
    if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
        WARN("skipped: /usr/bin/python3 with h5py is not available (Debian: apt-get install python3-h5py)");
        return;
    }
    const fs::path dir = fs::temp_directory_path() / ("lamina-h5py-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    // h5py lists every dataset and attribute as "path|name|shape|v1,v2,..." lines (floats
    // with repr, exact), sorted; the reader's tree is printed the same way.
    {
        std::ofstream py(dir / "dump.py");
        py << "import sys, h5py, numpy as np\n"
              "def fmt(v):\n"
              "    a = np.asarray(v)\n"
              "    shape = 'null' if isinstance(v, h5py.Empty) else 'x'.join(str(d) for d in a.shape)\n"
              "    if isinstance(v, h5py.Empty): return shape + '|'\n"
              "    vals = []\n"
              "    for x in a.reshape(-1):\n"
              "        if isinstance(x, (bytes, np.bytes_)): vals.append(x.decode('utf8'))\n"
              "        elif isinstance(x, str): vals.append(x)\n"
              "        elif a.dtype.kind == 'f': vals.append(repr(float(x)))\n"
              "        else: vals.append(str(int(x)))\n"
              "    return shape + '|' + ','.join(vals)\n"
              "out = []\n"
              "with h5py.File(sys.argv[1], 'r') as f:\n"
              "    def visit(name, obj):\n"
              "        if isinstance(obj, h5py.Dataset): out.append('/' + name + '||' + fmt(obj[()]))\n"
              "        for k in obj.attrs: out.append('/' + name + '|' + k + '|' + fmt(obj.attrs[k]))\n"
              "    for k in f.attrs: out.append('/|' + k + '|' + fmt(f.attrs[k]))\n"
              "    f.visititems(visit)\n"
              "print('\\n'.join(sorted(out)))\n";
    }
    const auto fmt = [](const Array& a) {
        std::ostringstream s;
        if (a.null) return std::string("null|");
        for (std::size_t i = 0; i < a.shape.size(); ++i) s << (i ? "x" : "") << a.shape[i];
        s << '|';
        if (a.kind == Kind::string) {
            for (std::size_t i = 0; i < a.strings.size(); ++i) s << (i ? "," : "") << a.strings[i];
        } else if (a.kind == Kind::floating) {
            const std::vector<double> v = a.values<double>();
            s.precision(17);
            for (std::size_t i = 0; i < v.size(); ++i) {
                // Python's repr: the shortest text that reads back; compare through the value.
                s << (i ? "," : "") << v[i];
            }
        } else {
            const std::vector<std::int64_t> v = a.values<std::int64_t>();
            for (std::size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
        }
        return s.str();
    };
    std::vector<std::string> names{"types.h5",         "keras3.weights.h5", "legacy_keras2.h5",
                                   "legacy_nested.h5", "deep_btree.h5",     "small.h5"};
#if defined(LAMINA_HAVE_ZLIB)
    names.insert(names.end(), {"gzip.h5", "small_gzip.h5"});  // deflated chunks
#endif
    for (const std::string& name : names) {
        INFO(name);
        const std::string cmd = "/usr/bin/python3 " + (dir / "dump.py").string() + " " + fixture(name).string() +
                                " > " + (dir / "h5py.txt").string();
        REQUIRE(std::system(cmd.c_str()) == 0);
        std::vector<std::string> ours;
        const File f = File::read(fixture(name));
        const auto visit = [&](const auto& self, const Object& o) -> void {
            const std::string p = o.path == "/" ? "" : o.path;
            if (!o.is_group) ours.push_back(o.path + "||" + fmt(o.data));
            for (const auto& [n, a] : o.attributes) ours.push_back((p.empty() ? "/" : p) + "|" + n + "|" + fmt(a));
            for (const Object& m : o.members) self(self, m);
        };
        visit(visit, f.root());
        std::sort(ours.begin(), ours.end());
        std::ifstream in(dir / "h5py.txt");
        std::vector<std::string> theirs;
        for (std::string line; std::getline(in, line);) theirs.push_back(line);
        REQUIRE(theirs.size() == ours.size());
        for (std::size_t i = 0; i < ours.size(); ++i) {
            // Floats: h5py's repr and our %.17g differ in text, not in value.
            const auto values = [](const std::string& line) {
                const std::size_t bar = line.rfind('|');
                return std::pair{line.substr(0, bar), line.substr(bar + 1)};
            };
            const auto [ok, ov] = values(ours[i]);
            const auto [tk, tv] = values(theirs[i]);
            REQUIRE(ok == tk);
            if (ov == tv) continue;
            std::istringstream a(ov), b(tv);
            for (std::string x, y; std::getline(a, x, ',') && std::getline(b, y, ',');)
                CHECK(std::stod(x) == std::stod(y));
        }
    }
    fs::remove_all(dir);
}

TEST_CASE("HDF5 writer's files read back: groups, 20 members, float32, float64, int64, empty", "[hdf5][write]") {
    namespace h5 = lamina::io::hdf5;
    const float k[6] = {1.5f, -2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    const double b[3] = {0.1, 0.2, 0.3};
    const std::int64_t iterations = 7;
    std::vector<Object> many;
    for (int i = 0; i < 20; ++i) {
        const float v = static_cast<float>(i) * 0.5f;
        many.push_back(h5::dataset<float>(std::to_string(i), {}, &v, 1));
    }
    const Object root =
        h5::group("",
                  {h5::group("layers", {h5::group("dense", {h5::group("vars", {h5::dataset<float>("0", {2, 3}, k, 6),
                                                                               h5::dataset<double>("1", {3}, b, 3)})}),
                                        h5::group("dropout", {h5::group("vars")})}),
                   h5::group("optimizer", {h5::group("vars", many)}),
                   h5::dataset<std::int64_t>("iterations", {}, &iterations, 1),
                   h5::dataset<float>("empty", {0, 4}, k, 0), h5::group("vars")});
    const std::vector<std::byte> bytes = h5::write(root);
    const File f = File::parse(bytes, "written.h5");
    CHECK(at(f, "layers/dense/vars/0").data.values<float>() == std::vector<float>(k, k + 6));
    CHECK(at(f, "layers/dense/vars/0").data.shape == std::vector<std::uint64_t>{2, 3});
    CHECK(at(f, "layers/dense/vars/1").data.values<double>() == std::vector<double>(b, b + 3));
    CHECK(at(f, "iterations").data.values<std::int64_t>() == std::vector<std::int64_t>{7});
    CHECK(at(f, "empty").data.shape == std::vector<std::uint64_t>{0, 4});
    CHECK(at(f, "layers/dropout/vars").members.empty());
    REQUIRE(at(f, "optimizer/vars").members.size() == 20);
    for (int i = 0; i < 20; ++i)
        CHECK(at(f, "optimizer/vars/" + std::to_string(i)).data.values<float>() ==
              std::vector<float>{static_cast<float>(i) * 0.5f});
    CHECK_THROWS_AS(h5::write(h5::group("", {h5::group("a"), h5::group("a")})), std::invalid_argument);
    CHECK_THROWS_AS(h5::write(h5::group("", {h5::group("a/b")})), std::invalid_argument);

    if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
        WARN("skipped the h5py check: /usr/bin/python3 with h5py is not available");
        return;
    }
    const fs::path path = fs::temp_directory_path() / ("lamina-written-" + std::to_string(::getpid()) + ".h5");
    lamina::io::write_file_atomically(path, bytes, "test");
    const std::string check = "/usr/bin/python3 -c \"import sys, h5py, numpy as np\n"
                              "f = h5py.File(sys.argv[1], 'r')\n"
                              "k = f['layers/dense/vars/0']\n"
                              "assert k.dtype == np.float32 and k.shape == (2, 3), (k.dtype, k.shape)\n"
                              "assert (k[()] == np.array([[1.5, -2, 3], [4, 5, 6]], np.float32)).all()\n"
                              "assert f['layers/dense/vars/1'].dtype == np.float64 and "
                              "list(f['layers/dense/vars/1'][()]) == [0.1, 0.2, 0.3]\n"
                              "assert f['iterations'].dtype == np.int64 and f['iterations'][()] == 7\n"
                              "assert f['empty'].shape == (0, 4)\n"
                              "assert sorted(f['optimizer/vars'].keys(), key=int) == [str(i) for i in range(20)]\n"
                              "assert all(f['optimizer/vars'][str(i)][()] == i * 0.5 for i in range(20))\n"
                              "assert list(f['layers/dropout/vars'].keys()) == [] and list(f['vars'].keys()) == []\n"
                              "\" " +
                              path.string();
    CHECK(std::system(check.c_str()) == 0);
    fs::remove(path);
}

TEST_CASE("Stored zip archives: written, read back, and malformed ones refused", "[hdf5][zip]") {
    namespace zip = lamina::io::zip;
    const std::string a = "{\"keras_version\": \"3.3.3\"}", b = "second entry";
    const std::vector<zip::Entry> entries{{"metadata.json", std::as_bytes(std::span(a))},
                                          {"model.weights.h5", std::as_bytes(std::span(b))}};
    const std::vector<std::byte> bytes = zip::write(entries);
    const std::vector<zip::Entry> back = zip::read(bytes, "x.keras", "test");
    REQUIRE(back.size() == 2);
    CHECK(back[0].name == "metadata.json");
    CHECK(std::string(reinterpret_cast<const char*>(back[1].data.data()), back[1].data.size()) == b);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        const std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        CHECK_THROWS_AS(zip::read(cut, "cut.keras", "test"), lamina::io_error);
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::vector<std::byte> flipped = bytes;
        flipped[i] ^= std::byte{0x20};
        try {
            (void)zip::read(flipped, "flipped.keras", "test");
        } catch (const lamina::io_error& e) {
            REQUIRE_THAT(std::string(e.what()), Catch::StartsWith("test: 'flipped.keras': zip archive: "));
        }
    }
    // Python's zipfile wrote the fixture (stored).
    const std::vector<std::byte> keras = fixture_bytes("keras3.keras");
    const std::vector<zip::Entry> files = zip::read(keras, "keras3.keras", "test");
    REQUIRE(files.size() == 3);
    CHECK(files[2].name == "model.weights.h5");
    CHECK_NOTHROW(File::parse(files[2].data, "model.weights.h5"));
}
