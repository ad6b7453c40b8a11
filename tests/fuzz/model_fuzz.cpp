// SPDX-License-Identifier: MIT
// lamina: libFuzzer target feeding arbitrary bytes to the model loader (lamina::load_model from memory).
#include <lamina/io/crc32.hpp>
#include <lamina/lamina.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

namespace {

// Loads `bytes` as a model of scalar S. Malformed input must end in an io_error and nowhere
// else; a model that loads must be usable and save to a file that loads back to itself.
template <class S>
void try_load(std::span<const std::byte> bytes) {
    try {
        auto model = lamina::load_model<S>(bytes, "fuzz");
        const std::vector<std::byte> saved = model.to_bytes();
        auto again = lamina::load_model<S>(std::span<const std::byte>(saved), "fuzz (saved again)");
        if (again.to_bytes() != saved) std::abort();  // saving is a fixed point after one load
        if (model.size() == 0 || model.count_params() > 100000 || model.input_dim() > 10000) return;
        // Run it: a forward pass, and one training step when compiled (from the loaded optimizer state).
        const lamina::Matrix<S> x = lamina::Matrix<S>::Zero(2, model.input_dim());
        lamina::Matrix<S> y = lamina::Matrix<S>::Zero(2, model.output_dim());
        y.col(0).setOnes();
        (void)model.predict(x, {.threads = 1});
        try {
            (void)model.train_on_batch(x, y, 1);
        } catch (const lamina::error& e) {
            // Only "not compiled" is expected here.
            if (std::string_view(e.what()).find("not compiled") == std::string_view::npos) std::abort();
        }
    } catch (const lamina::io_error&) {
        // Malformed input must end here, and nowhere else.
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = std::as_bytes(std::span(data, size));
    try_load<float>(bytes);
    try_load<double>(bytes);
    // The same bytes with the size field (byte 16) and the trailing CRC-32 made to agree, so
    // that mutations get past the checksum into the parser.
    if (size >= 28) {
        std::vector<std::byte> fixed(bytes.begin(), bytes.end());
        for (int i = 0; i < 8; ++i)
            fixed[16 + std::size_t(i)] = std::byte(static_cast<std::uint8_t>(std::uint64_t(size) >> (8 * i)));
        const std::uint32_t crc = lamina::io::crc32(std::span(fixed).first(size - 4));
        for (int i = 0; i < 4; ++i)
            fixed[size - 4 + std::size_t(i)] = std::byte(static_cast<std::uint8_t>(crc >> (8 * i)));
        try_load<float>(fixed);
        try_load<double>(fixed);
    }
    return 0;
}
