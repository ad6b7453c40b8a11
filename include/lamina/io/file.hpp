// SPDX-License-Identifier: MIT
// lamina: reads a whole file into memory and writes one atomically (temporary file, then rename).
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
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
#include <unistd.h>
#endif

#include <lamina/core/error.hpp>

namespace lamina {

namespace detail {

/// A temporary file name next to `path`, unique per process and per call:
/// `path` + ".tmp-<pid>-<n>".
inline std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
    static std::atomic<unsigned long long> counter{0};
#if defined(_WIN32)
    const long long pid = _getpid();
#else
    const long long pid = ::getpid();
#endif
    std::filesystem::path tmp = path;
    tmp += ".tmp-" + std::to_string(pid) + "-" + std::to_string(counter.fetch_add(1));
    return tmp;
}

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

}  // namespace detail

/// Writes `bytes` to `path` atomically: they go to a temporary file in the same folder
/// (`path` + ".tmp-<pid>-<n>"), which is flushed to the disk, closed and checked, then
/// renamed onto `path`. A reader never sees a half-written file, an existing file is
/// replaced only on success, and a failure leaves no temporary file behind.
///
/// \param path  the file to write; its folder must exist.
/// \param bytes the whole contents.
/// \param where the function to name in error messages, e.g. "lamina::save_png".
/// \throws lamina::io_error "<where>: cannot write '<path>': <why>" if the folder is missing
///         or not writable, a write fails (disk full) or the rename fails (e.g. `path` is a
///         folder); the temporary file is removed first.
inline void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes,
                                  std::string_view where) {
    const std::filesystem::path tmp = lamina::detail::temporary_path_for(path);
    const auto fail = [&](const std::string& why) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw io_error(std::string(where) + ": cannot write " + lamina::detail::quoted(path) + ": " + why);
    };
    const auto os_error = [](int err) {
        return err != 0 ? " (" + std::generic_category().message(err) + ")" : std::string();
    };

    const std::filesystem::path folder = path.parent_path();
    std::error_code ec;
    if (!folder.empty() && !std::filesystem::is_directory(folder, ec))
        fail("folder " + lamina::detail::quoted(folder) + " does not exist or is not a folder");
    {
        errno = 0;
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(tmp.string().c_str(), "wb"), &std::fclose);
        if (!file) fail("cannot create temporary file " + lamina::detail::quoted(tmp) + os_error(errno));
        errno = 0;
        bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), file.get()) == bytes.size();
        ok = ok && std::fflush(file.get()) == 0;
#if defined(_WIN32)
        ok = ok && _commit(_fileno(file.get())) == 0;
#else
        ok = ok && ::fsync(::fileno(file.get())) == 0;
#endif
        const int write_errno = errno;
        errno = 0;
        const bool closed = std::fclose(file.release()) == 0;
        if (!ok || !closed)
            fail("writing temporary file " + lamina::detail::quoted(tmp) + " failed" +
                 os_error(ok ? errno : write_errno));
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail("renaming " + lamina::detail::quoted(tmp) + " into place failed (" + ec.message() + ")");
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
