// SPDX-License-Identifier: MIT
// lamina: reads a whole file into memory and writes one atomically (temporary file, then rename).
#pragma once

/*
The rules every lamina writer follows (model files, .npz archives, PNG images, the example's
CSV), all through `io::write_file_atomically`:

- Only regular files are written. A target that exists and is a folder, a character or block
  device (`/dev/null`), a FIFO or a socket is refused with an `io_error` naming the path and
  what it is; nothing is created.
- A symbolic link is followed, as `cp`, editors and a shell's `>` do: the file it leads to
  (through any chain of links, at most 40) is replaced and the link itself stays a link. A
  dangling link's target is created when the target's folder exists; otherwise the write is
  refused, naming the link and its target.
- The new contents go to a temporary file in the target's (resolved) folder, named
  ".<name>.tmp-<12 random characters>" and created with O_CREAT | O_EXCL | O_NOFOLLOW, so a
  file or link planted under any name is never opened or followed. It is written, flushed to
  the disk (fsync), given the replaced file's permission bits (a new file gets 0666 less the
  umask), and renamed onto the target; then the folder is flushed. A reader sees the old file
  or the new one, never half of one. On any failure the temporary file is removed and the
  target is untouched.
*/

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#include <process.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <lamina/core/error.hpp>

namespace lamina {

namespace detail {

/// `path` in single quotes, for error messages. (Built by appending: GCC 12 gives a false
/// -Wrestrict warning for `"'" + std::string` at -O3.)
inline std::string quoted(const std::filesystem::path& path) {
    const std::string text = path.string();
    std::string out;
    out.reserve(text.size() + 2);
    out += '\'';
    out += text;
    out += '\'';
    return out;
}

}  // namespace detail

namespace io {

namespace detail {

/// Throws `io_error` with the message "<where>: '<file>': <parts...>": how the model, .npz
/// and file readers word every error.
template <class... Parts>
[[noreturn]] void raise_io_error(std::string_view where, std::string_view file, const Parts&... parts) {
    std::ostringstream out;
    out << where << ": '" << file << "': ";
    (out << ... << parts);
    throw io_error(out.str());
}

/// " (<strerror>)" for a non-zero errno value, else "".
inline std::string os_error(int err) {
    return err != 0 ? " (" + std::generic_category().message(err) + ")" : std::string();
}

/// What a write should replace: the file a path leads to once its symbolic links are followed.
struct WriteTarget {
    std::filesystem::path path;  ///< the resolved path (the given one when it is no link)
    bool exists = false;         ///< a regular file is there now
    unsigned mode = 0;           ///< its permission bits, when it exists
};

#if !defined(_WIN32)
/// "a folder", "a character device", ... for a file type from `stat`.
inline const char* file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}
#endif

/// Follows `path`'s symbolic links to the file a write should replace, refusing anything
/// but a regular file or a new file in an existing folder. `fail(why)` throws.
template <class Fail>
WriteTarget resolve_write_target(const std::filesystem::path& path, const Fail& fail) {
    namespace fs = std::filesystem;
    if (path.empty()) fail("the path is empty");
    fs::path p = path;
    const auto via = [&]() -> std::string { return p == path ? std::string() : " (where the symbolic link leads)"; };
    WriteTarget t;
#if defined(_WIN32)
    std::error_code ec;
    for (int hops = 0; fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
        if (hops == 40) fail("more than 40 symbolic links in a chain (a loop?)");
        const fs::path next = fs::read_symlink(p, ec);
        if (ec) fail("cannot read the symbolic link " + lamina::detail::quoted(p) + " (" + ec.message() + ")");
        p = next.is_absolute() ? next : p.parent_path() / next;
    }
    const auto status = fs::status(p, ec);
    if (fs::exists(status)) {
        if (!fs::is_regular_file(status))
            fail(lamina::detail::quoted(p) + via() + " is not a regular file; lamina writes only regular files");
        t.exists = true;
    }
#else
    for (int hops = 0;; ++hops) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) {
            const int err = errno;
            if (err == ENOENT) break;  // a new file, or a dangling link's target: checked below
            fail("cannot examine " + lamina::detail::quoted(p) + via() + os_error(err));
        }
        if (S_ISLNK(st.st_mode)) {
            if (hops == 40) fail("more than 40 symbolic links in a chain (a loop?)");
            std::vector<char> buffer(std::size_t(st.st_size > 0 ? st.st_size : 255) + 2);
            const ssize_t n = ::readlink(p.c_str(), buffer.data(), buffer.size());
            if (n < 0 || std::size_t(n) >= buffer.size())
                fail("cannot read the symbolic link " + lamina::detail::quoted(p) + os_error(n < 0 ? errno : 0));
            const fs::path next(std::string(buffer.data(), std::size_t(n)));
            p = next.is_absolute() ? next : p.parent_path() / next;
            continue;
        }
        if (!S_ISREG(st.st_mode))
            fail((p == path ? std::string("it") : lamina::detail::quoted(p) + via()) + " is " + file_kind(st.st_mode) +
                 ", not a regular file; lamina writes only regular files");
        t.exists = true;
        t.mode = unsigned(st.st_mode & 07777);
        break;
    }
#endif
    t.path = p;
    if (!t.exists) {
        const fs::path folder = p.parent_path();
        std::error_code ec;
        if (!folder.empty() && !fs::is_directory(folder, ec))
            fail(p == path ? "folder " + lamina::detail::quoted(folder) + " does not exist or is not a folder"
                           : "it is a symbolic link to " + lamina::detail::quoted(p) + ", whose folder " +
                                 lamina::detail::quoted(folder) + " does not exist or is not a folder");
        if (p.filename().empty() || p.filename() == "." || p.filename() == "..")
            fail("the path names a folder, not a file");
    }
    return t;
}

/// 12 random characters from [0-9a-z] for a temporary file's name: a per-process seed from
/// std::random_device, the clock and the process id, mixed with a counter by splitmix64.
inline std::string random_suffix() {
    static const std::uint64_t seed = [] {
        std::uint64_t s = std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
#if defined(_WIN32)
        s ^= std::uint64_t(_getpid()) << 32;
#else
        s ^= std::uint64_t(::getpid()) << 32;
#endif
        try {
            std::random_device device;
            s ^= (std::uint64_t(device()) << 32) ^ device();
        } catch (...) {  // no entropy source: the clock and the pid remain, and O_EXCL keeps it safe
        }
        return s;
    }();
    static std::atomic<std::uint64_t> counter{0};
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (counter.fetch_add(1) + 1) +
                      std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    constexpr std::string_view digits = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s(12, '0');
    for (char& c : s) {
        c = digits[z % 36];
        z /= 36;
    }
    return s;
}

}  // namespace detail

/// Checks, without writing anything, that `write_file_atomically` could write `path`: it is
/// (or its symbolic links lead to) a regular file or a new file in an existing folder, and
/// that folder is writable. For programs that write after a long computation and should
/// refuse a bad path before it.
/// \param path  the file that will be written.
/// \param where the function or program to name in error messages.
/// \returns the file the write would replace, its symbolic links followed.
/// \throws lamina::io_error "<where>: cannot write '<path>': <why>" for a folder, device,
///         FIFO or socket, a missing folder (also a dangling link's), or a folder this
///         process may not write in.
inline std::filesystem::path check_writable(const std::filesystem::path& path, std::string_view where) {
    const auto fail = [&](const std::string& why) {
        throw io_error(std::string(where) + ": cannot write " + lamina::detail::quoted(path) + ": " + why);
    };
    const detail::WriteTarget target = detail::resolve_write_target(path, fail);
#if !defined(_WIN32)
    const std::filesystem::path folder = target.path.parent_path().empty() ? "." : target.path.parent_path();
    if (::access(folder.c_str(), W_OK | X_OK) != 0)
        fail("its folder " + lamina::detail::quoted(folder) + " is not writable" + detail::os_error(errno));
#endif
    return target.path;
}

/// Writes `bytes` to `path` atomically, by the rules at the top of this header: a regular
/// file only, symbolic links followed, a temporary file created exclusively under a random
/// name beside the resolved target, flushed to the disk, renamed into place. A reader never
/// sees a half-written file, an existing file is replaced only on success, and a failure
/// leaves no temporary file behind.
///
/// \param path  the file to write; its folder must exist.
/// \param bytes the whole contents.
/// \param where the function to name in error messages, e.g. "lamina::save_png".
/// \throws lamina::io_error "<where>: cannot write '<path>': <why>" if `path` (or where its
///         links lead) is a folder, a device, a FIFO or a socket, the folder is missing or not
///         writable, a write fails (disk full) or the rename fails; the temporary file is
///         removed first.
inline void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes,
                                  std::string_view where) {
    namespace fs = std::filesystem;
    fs::path tmp;
    const auto fail = [&](const std::string& why) {
        if (!tmp.empty()) {
            std::error_code ignored;
            fs::remove(tmp, ignored);
        }
        throw io_error(std::string(where) + ": cannot write " + lamina::detail::quoted(path) + ": " + why);
    };
    const detail::WriteTarget target = detail::resolve_write_target(path, fail);
    const fs::path folder = target.path.parent_path();
    // ".<name>.tmp-<12>", the name cut to stay within the 255 bytes a file name may have.
    // (Appended, not `"." + ...`: GCC 12's false -Wrestrict, as in `quoted`.)
    std::string prefix = ".";
    prefix += target.path.filename().string().substr(0, 200);
    prefix += ".tmp-";

#if defined(_WIN32)
    std::FILE* raw = nullptr;
    for (int attempt = 0; attempt < 100 && !raw; ++attempt) {
        tmp = folder / (prefix + detail::random_suffix());
        errno = 0;
        raw = std::fopen(tmp.string().c_str(), "wbx");  // C11 exclusive creation
        if (!raw && errno != EEXIST) break;
    }
    if (!raw) {
        const int err = errno;
        tmp.clear();
        fail("cannot create a temporary file in " + lamina::detail::quoted(folder.empty() ? "." : folder) +
             detail::os_error(err));
    }
    {
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(raw, &std::fclose);
        errno = 0;
        bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), file.get()) == bytes.size();
        ok = ok && std::fflush(file.get()) == 0 && _commit(_fileno(file.get())) == 0;
        const int write_errno = errno;
        errno = 0;
        const bool closed = std::fclose(file.release()) == 0;
        if (!ok || !closed)
            fail("writing temporary file " + lamina::detail::quoted(tmp) + " failed" +
                 detail::os_error(ok ? errno : write_errno));
    }
    std::error_code ec;
    fs::rename(tmp, target.path, ec);
    if (ec) fail("renaming " + lamina::detail::quoted(tmp) + " into place failed (" + ec.message() + ")");
#else
    int fd = -1;
    int open_errno = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        tmp = folder / (prefix + detail::random_suffix());
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        open_errno = errno;
        if (fd < 0 && open_errno != EEXIST && open_errno != EINTR) break;
    }
    if (fd < 0) {
        tmp.clear();  // not ours: never remove what another process made
        fail("cannot create a temporary file in " + lamina::detail::quoted(folder.empty() ? "." : folder) +
             detail::os_error(open_errno));
    }
    int err = 0;
    for (std::size_t done = 0; done < bytes.size() && err == 0;) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n > 0) done += std::size_t(n);
        else if (n == 0) err = EIO;
        else if (errno != EINTR) err = errno;
    }
    if (err == 0 && target.exists && ::fchmod(fd, mode_t(target.mode)) != 0) err = errno;
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err != 0) fail("writing temporary file " + lamina::detail::quoted(tmp) + " failed" + detail::os_error(err));
    if (::rename(tmp.c_str(), target.path.c_str()) != 0)
        fail("renaming " + lamina::detail::quoted(tmp) + " into place failed" + detail::os_error(errno));
    tmp.clear();
    // The rename is durable once the folder is flushed; a folder that cannot be is no error.
    if (const int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
        (void)::fsync(dir);
        ::close(dir);
    }
#endif
}

/// Reads the whole file at `path` into memory.
/// \param path  the file.
/// \param where the function to name in error messages, e.g. "lamina::load_model".
/// \returns its bytes.
/// \throws lamina::io_error "<where>: '<path>': cannot read the file: <why>" if it is
///         missing, not a regular file or unreadable, or changes size while being read.
inline std::vector<std::byte> read_file(const std::filesystem::path& path, std::string_view where) {
    const std::string name = path.string();
    const auto fail = [&](const std::string& why) {
        detail::raise_io_error(where, name, "cannot read the file: ", why);
    };
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) fail(ec.message());
    if (!std::filesystem::is_regular_file(status)) fail("not a regular file");
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) fail(ec.message());
    errno = 0;
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(name.c_str(), "rb"), &std::fclose);
    if (!file) fail(errno != 0 ? std::generic_category().message(errno) : std::string("cannot open it"));
    std::vector<std::byte> bytes(static_cast<std::size_t>(size));
    const std::size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), file.get());
    if (got != bytes.size() || std::ferror(file.get()))
        fail("read " + std::to_string(got) + " of its " + std::to_string(size) + " bytes");
    std::byte extra{};
    if (std::fread(&extra, 1, 1, file.get()) != 0)
        fail("it grew while being read (more than " + std::to_string(size) + " bytes)");
    return bytes;
}

}  // namespace io
}  // namespace lamina
