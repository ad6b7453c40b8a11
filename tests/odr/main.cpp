// SPDX-License-Identifier: MIT
// lamina tests: the ODR test's programs: both translation units together, or one alone.
//
// Built three ways (tests/CMakeLists.txt): LAMINA_ODR_FIRST and LAMINA_ODR_SECOND link one of
// first.cpp and second.cpp (compiled with different -march flags) and print its result;
// LAMINA_ODR_BOTH links both and checks its two results against those printed alone, read
// from the files named on its command line (compare.cmake runs the three).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

std::string first_result();
std::string second_result();
const void* first_kernels();
const void* second_kernels();
long first_params();
long second_params();

#if defined(LAMINA_ODR_BOTH)
namespace {

std::vector<double> values_of(const std::string& text) {
    std::istringstream in(text);
    std::vector<double> values;
    for (std::string token; in >> token;) values.push_back(std::strtod(token.c_str(), nullptr));
    return values;
}

// Whether a result of the program that links both units matches the unit's result alone: the
// same count of values, each within 1e-4. Not bit for bit: Eigen's inline functions (the
// activations, the updates) are compiled with each unit's flags, and the linker keeps one
// copy of each for the whole program, so a unit may run the other's Eigen code (rounding
// differently where one has FMA); lamina's own kernels are the same in both.
bool matches(const char* name, const std::string& together, const char* alone_file) {
    std::ifstream in(alone_file);
    std::stringstream alone;
    alone << in.rdbuf();
    const auto a = values_of(together), b = values_of(alone.str());
    double worst = a.size() == b.size() && !a.empty() ? 0 : INFINITY;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::fmax(worst, std::fabs(a[i] - b[i]));
    std::printf("%s: %zu values, together against alone: largest difference %g\n", name, a.size(), worst);
    return worst <= 1e-4;
}

}  // namespace
#endif

int main([[maybe_unused]] int argc, [[maybe_unused]] char** argv) {
#if defined(LAMINA_ODR_BOTH)
    // One choice of kernels for the program, whichever translation unit asks.
    if (first_kernels() != second_kernels()) {
        std::puts("the two translation units hold different kernel choices");
        return 1;
    }
    if (first_params() + second_params() != 2 * (9 + 4) || argc != 3) return 1;
    const bool first_ok = matches("first", first_result(), argv[1]);
    const bool second_ok = matches("second", second_result(), argv[2]);
    return first_ok && second_ok ? 0 : 1;
#elif defined(LAMINA_ODR_FIRST)
    std::printf("%s\n", first_result().c_str());
#else
    std::printf("%s\n", second_result().c_str());
#endif
    return 0;
}
