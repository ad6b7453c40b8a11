// SPDX-License-Identifier: MIT
// lamina tests: a layer kind written outside the library, registered in one line, saves, loads and summarises.
#include <catch2/catch.hpp>

#include <memory>
#include <span>
#include <sstream>

#include <lamina/lamina.hpp>

namespace {

// y = x * scale, one learned scale per input: a kind the library does not know.
template <lamina::Scalar S>
class ScaleLayer final : public lamina::Layer<S> {
public:
    static constexpr const char* kind_name = "Scale";
    explicit ScaleLayer(const lamina::Shape& input) {
        this->set_shapes(input, input);
        this->add_weight("scale", {input.size()});
    }
    static std::unique_ptr<lamina::Layer<S>> from_config(const lamina::Config& config, const lamina::Shape& input) {
        lamina::ConfigReader(config, kind_name).finish();
        return std::make_unique<ScaleLayer>(input);
    }
    [[nodiscard]] std::string kind() const override { return kind_name; }
    void initialize(lamina::Random& /*rng*/) override { scale().setOnes(); }
    void forward(lamina::ConstMatrixRef<S> x, lamina::MatrixRef<S> y, const lamina::Pass& = {}) const override {
        y = x * scale().asDiagonal();
    }
    void backward(lamina::ConstMatrixRef<S>, lamina::ConstMatrixRef<S>, lamina::ConstMatrixRef<S> dy,
                  lamina::MatrixRef<S> dx, const lamina::Pass& = {}) const override {
        dx = dy * scale().asDiagonal();
    }
    lamina::ParameterRange gradient(lamina::ConstMatrixRef<S> x, lamina::ConstMatrixRef<S> dy, lamina::Index,
                                    lamina::Index) override {
        lamina::VectorMap<S>(this->grads(), this->input_dim()) = x.cwiseProduct(dy).colwise().sum().transpose();
        return {0, this->input_dim()};
    }

private:
    lamina::VectorMap<S> scale() const { return {this->params(), this->input_dim()}; }
};

struct Scale {
    template <lamina::Scalar S>
    std::unique_ptr<lamina::Layer<S>> build(const lamina::Shape& input) const {
        return std::make_unique<ScaleLayer<S>>(input);
    }
};

}  // namespace

TEST_CASE("A layer kind of the program's own, registered in one line, trains, saves, loads and summarises",
          "[registry]") {
    lamina::Sequential<float> model{lamina::Dense(3, {.input_dim = 2}), Scale{}, lamina::Dense(2)};
    model.compile("mse", lamina::SGD{.learning_rate = 0.1});
    const lamina::Matrix<float> x{{1, 2}, {3, -1}, {0.5f, 0}};
    const lamina::Matrix<float> y{{1, 0}, {0, 1}, {1, 1}};
    model.fit(x, y, {.epochs = 3, .verbose = 0});
    const auto bytes = model.to_bytes();  // saving needs nothing but the layer's own description
    REQUIRE_THROWS_WITH(lamina::load_model<float>(std::span<const std::byte>(bytes)),
                        Catch::Contains("unknown layer kind 'Scale'") && Catch::Contains("register_layer"));
    lamina::register_layer<ScaleLayer>();
    auto loaded = lamina::load_model<float>(std::span<const std::byte>(bytes));
    CHECK(loaded.layer(1).kind() == "Scale");
    CHECK(loaded.parameters() == model.parameters());
    CHECK(loaded.predict(x) == model.predict(x));
    std::ostringstream summary;
    loaded.summary(summary);
    CHECK_THAT(summary.str(), Catch::Contains("scale (Scale)") && Catch::Contains("(None, 3)"));
    CHECK(loaded.layer(1).get_weights()[0].cols() == 3);
}
