// SPDX-License-Identifier: MIT
// lamina: libFuzzer target feeding arbitrary bytes to the HDF5 reader (lamina::io::hdf5::File::parse).
#include <lamina/io/hdf5.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

namespace {

using lamina::io::hdf5::Array;
using lamina::io::hdf5::Kind;
using lamina::io::hdf5::Object;

// An array that was read must account for its elements exactly, and its numbers must convert.
void check(const Array& a) {
    const std::uint64_t n = a.element_count();
    if (a.kind == Kind::string) {
        if (a.strings.size() != n || !a.bytes.empty()) std::abort();
        return;
    }
    if (a.item_size == 0 || a.bytes.size() != n * a.item_size || !a.strings.empty()) std::abort();
    if (a.values<double>().size() != n) std::abort();
}

void walk(const Object& o, int depth) {
    if (depth > 70) std::abort();  // the reader stops at 64
    for (const auto& attribute : o.attributes) check(attribute.second);
    if (!o.is_group) check(o.data);
    if (!o.is_group && !o.members.empty()) std::abort();
    for (const Object& m : o.members) {
        if (m.path.size() <= m.name.size() || std::string_view(m.path).substr(m.path.size() - m.name.size()) != m.name)
            std::abort();
        walk(m, depth + 1);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto file = lamina::io::hdf5::File::parse(std::as_bytes(std::span(data, size)), "fuzz");
        walk(file.root(), 0);
        (void)file.root().find("layers/dense/vars/0");
    } catch (const lamina::io_error&) {
        // Malformed or refused input must end here, and nowhere else.
    }
    return 0;
}
