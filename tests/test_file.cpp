// SPDX-License-Identifier: MIT
// lamina tests: io/file.hpp's writing rules through every writer: no device, FIFO or folder replaced, symbolic links
// followed, temporary files created exclusively under random names, nothing left behind.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <csignal>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <lamina/io/file.hpp>
#include <lamina/io/npz.hpp>
#include <lamina/lamina.hpp>
#include <lamina/viz/weight_grid.hpp>

#include "save_files.hpp"

#if !defined(_WIN32)

using lamina::test::ByteVec;
using lamina::test::LeWriter;
using lamina::test::SaveDir;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const lamina::io_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("unexpected exception: ") + e.what();
    }
    return "no exception";
}

const ByteVec payload = LeWriter{}.raw("new contents").bytes;

void write(const fs::path& path) { lamina::io::write_file_atomically(path, payload, "test.write"); }

// Every public writer, writing to `path`.
std::vector<std::pair<std::string, std::function<void(const fs::path&)>>> writers() {
    return {
        {"write_file_atomically", [](const fs::path& p) { write(p); }},
        {"Sequential.save",
         [](const fs::path& p) {
             lamina::Sequential<float> m{lamina::Dense(2, {.input_dim = 3})};
             m.save(p);
         }},
        {"Sequential.save_weights",
         [](const fs::path& p) {
             lamina::Sequential<float> m{lamina::Dense(2, {.input_dim = 3})};
             m.save_weights(p);
         }},
        {"write_npz", [](const fs::path& p) { lamina::io::write_npz(p, {}); }},
        {"save_weight_grid",
         [](const fs::path& p) { lamina::save_weight_grid(p, lamina::Matrix<float>::Ones(784, 1)); }},
    };
}

fs::file_type type_of(const fs::path& p) { return fs::symlink_status(p).type(); }

std::vector<std::string> names_in(const fs::path& folder) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("Every writer refuses a FIFO, naming it, and leaves it a FIFO", "[io][file][errors]") {
    SaveDir dir;
    const fs::path fifo = dir / "pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const auto& entry : writers()) {  // not a structured binding: clang 14 cannot capture one
        const auto& name = entry.first;
        const auto& writer = entry.second;
        CAPTURE(name);
        CHECK_THAT(error_of([&] { writer(fifo); }), Catch::Contains("cannot write '" + fifo.string() + "'") &&
                                                        Catch::Contains("is a FIFO") &&
                                                        Catch::Contains("not a regular file"));
        CHECK(type_of(fifo) == fs::file_type::fifo);
        CHECK(dir.entries() == std::vector<std::string>{"pipe"});
    }
}

TEST_CASE("Every writer refuses /dev/null and a link to it, and /dev/null stays a device", "[io][file][errors]") {
    const fs::path null = "/dev/null";
    REQUIRE(fs::is_character_file(null));
    SaveDir dir;
    fs::create_symlink(null, dir / "link");
    for (const auto& entry : writers()) {  // not a structured binding: clang 14 cannot capture one
        const auto& name = entry.first;
        const auto& writer = entry.second;
        CAPTURE(name);
        CHECK_THAT(error_of([&] { writer(null); }),
                   Catch::Contains("cannot write '/dev/null': it is a character device, not a regular file"));
        CHECK_THAT(error_of([&] { writer(dir / "link"); }),
                   Catch::Contains("'/dev/null' (where the symbolic link leads) is a character device"));
        REQUIRE(fs::is_character_file(null));
        CHECK(fs::is_symlink(dir / "link"));
        CHECK(dir.entries() == std::vector<std::string>{"link"});
    }
}

TEST_CASE("Every writer refuses a folder, naming it, and leaves nothing behind", "[io][file][errors]") {
    SaveDir dir;
    fs::create_directory(dir / "taken");
    for (const auto& entry : writers()) {  // not a structured binding: clang 14 cannot capture one
        const auto& name = entry.first;
        const auto& writer = entry.second;
        CAPTURE(name);
        CHECK_THAT(error_of([&] { writer(dir / "taken"); }),
                   Catch::Contains("cannot write '" + (dir / "taken").string() + "': it is a folder"));
        CHECK(fs::is_directory(dir / "taken"));
        CHECK(fs::is_empty(dir / "taken"));
        CHECK(dir.entries() == std::vector<std::string>{"taken"});
    }
}

TEST_CASE("Writing through a symbolic link replaces its target and keeps the link", "[io][file]") {
    SaveDir dir;
    fs::create_directory(dir / "real");
    lamina::test::write_bytes(dir / "real" / "target.bin", LeWriter{}.raw("old").bytes);
    // A relative link, through a second link: the chain is followed to its end.
    fs::create_symlink("real/target.bin", dir / "first");
    fs::create_symlink(dir / "first", dir / "second");
    for (const auto& entry : writers()) {  // not a structured binding: clang 14 cannot capture one
        const auto& name = entry.first;
        const auto& writer = entry.second;
        CAPTURE(name);
        writer(dir / "second");
        CHECK(fs::is_symlink(dir / "first"));
        CHECK(fs::is_symlink(dir / "second"));
        CHECK(fs::read_symlink(dir / "first") == "real/target.bin");
        CHECK(fs::is_regular_file(fs::symlink_status(dir / "real" / "target.bin")));
        CHECK(dir.entries() == std::vector<std::string>{"first", "real", "second"});
        CHECK(names_in(dir / "real") == std::vector<std::string>{"target.bin"});
    }
    write(dir / "second");
    CHECK(lamina::test::read_bytes(dir / "real" / "target.bin") == payload);
}

TEST_CASE("A dangling link's target is created when its folder exists and refused otherwise", "[io][file]") {
    SaveDir dir;
    fs::create_symlink("made.bin", dir / "dangling");
    write(dir / "dangling");
    CHECK(fs::is_symlink(dir / "dangling"));
    CHECK(lamina::test::read_bytes(dir / "made.bin") == payload);

    fs::create_symlink(dir / "nowhere" / "x.bin", dir / "lost");
    CHECK_THAT(error_of([&] { write(dir / "lost"); }),
               Catch::Contains("it is a symbolic link to '" + (dir / "nowhere" / "x.bin").string() + "'") &&
                   Catch::Contains("does not exist"));
    CHECK(fs::is_symlink(dir / "lost"));
    CHECK(dir.entries() == std::vector<std::string>{"dangling", "lost", "made.bin"});

    fs::create_symlink("loop_b", dir / "loop_a");
    fs::create_symlink("loop_a", dir / "loop_b");
    CHECK_THAT(error_of([&] { write(dir / "loop_a"); }), Catch::Contains("more than 40 symbolic links"));
}

TEST_CASE("A link planted where the old writer put its temporary file is never followed", "[io][file][errors]") {
    // The old writer wrote to "<path>.tmp-<pid>-<n>" with fopen("wb"), which follows a link
    // planted there: the write went to the link's target. Plant links at those names and at
    // the new prefix with guessed suffixes; none may be followed or removed.
    SaveDir dir;
    const fs::path victim = dir / "victim";
    lamina::test::write_bytes(victim, LeWriter{}.raw("precious").bytes);
    const fs::path target = dir / "out.bin";
    std::set<std::string> planted;
    for (int n = 0; n < 64; ++n) {
        for (const std::string& name : {"out.bin.tmp-" + std::to_string(::getpid()) + "-" + std::to_string(n),
                                        ".out.bin.tmp-" + std::string(12, char('0' + n % 10))}) {
            if (planted.insert(name).second) fs::create_symlink(victim, dir / name);
        }
    }
    for (int k = 0; k < 20; ++k) write(target);
    CHECK(lamina::test::read_bytes(victim) == LeWriter{}.raw("precious").bytes);
    CHECK(lamina::test::read_bytes(target) == payload);
    for (const auto& name : planted) CHECK(fs::is_symlink(dir / name));
    CHECK(dir.entries().size() == planted.size() + 2);
}

TEST_CASE("A replaced file keeps its permission bits and a new one follows the umask", "[io][file]") {
    SaveDir dir;
    const fs::path file = dir / "f.bin";
    lamina::test::write_bytes(file, LeWriter{}.raw("old").bytes);
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    write(file);
    CHECK(fs::status(file).permissions() == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
    CHECK(lamina::test::read_bytes(file) == payload);

    const mode_t mask = ::umask(022);
    ::umask(mask);
    write(dir / "new.bin");
    CHECK(unsigned(fs::status(dir / "new.bin").permissions()) == (0666u & ~unsigned(mask)));
}

TEST_CASE("check_writable refuses what the writers refuse, before any work, and creates nothing", "[io][file]") {
    SaveDir dir;
    fs::create_directory(dir / "taken");
    CHECK(lamina::io::check_writable(dir / "fresh.csv", "prog") == dir / "fresh.csv");
    fs::create_symlink("taken/inner.csv", dir / "link");
    CHECK(lamina::io::check_writable(dir / "link", "prog") == dir / "taken/inner.csv");
    CHECK_THAT(error_of([&] { (void)lamina::io::check_writable(dir / "taken", "prog"); }),
               Catch::StartsWith("prog: cannot write '") && Catch::Contains("it is a folder"));
    CHECK_THAT(error_of([&] { (void)lamina::io::check_writable("/dev/null", "prog"); }),
               Catch::Contains("character device"));
    CHECK_THAT(error_of([&] { (void)lamina::io::check_writable(dir / "no" / "x.csv", "prog"); }),
               Catch::Contains("does not exist"));
    CHECK_THAT(error_of([&] { (void)lamina::io::check_writable("", "prog"); }), Catch::Contains("empty"));
    CHECK(dir.entries() == std::vector<std::string>{"link", "taken"});
    CHECK(fs::is_empty(dir / "taken"));
}

TEST_CASE("A write that fails part-way leaves the old file and no temporary file", "[io][file][errors]") {
    SaveDir dir;
    const fs::path file = dir / "f.bin";
    const ByteVec old = LeWriter{}.raw("old").bytes;
    lamina::test::write_bytes(file, old);
    // A file size limit of 4 bytes makes the 12-byte write fail (EFBIG) after its first bytes.
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = 4;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string e = error_of([&] { write(file); });
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, saved_handler);
    CHECK_THAT(e, Catch::Contains("cannot write '" + file.string() + "': writing temporary file") &&
                      Catch::Contains("failed (File too large)"));
    CHECK(lamina::test::read_bytes(file) == old);
    CHECK(dir.entries() == std::vector<std::string>{"f.bin"});
}

#endif
