// Booster: XGBoost 1.7 through its C API.
//
// Every XGBoost call goes through ML2_XGB, which throws std::runtime_error("<call> failed:
// <XGBGetLastError()>") on a non-zero return; handles are owned by RAII holders.
//
// Choices:
//   tree_method "hist". The models train on at most a few thousand rows of ~100 columns. Both
//   "exact" and "hist" are deterministic for a fixed thread count on the CPU; hist is the faster
//   one at this size (measured, 100 rounds, one thread: 1000 x 80 knob-like rows with 16 levels
//   per column, hist 30 ms vs exact 131 ms; 1000 x 80 continuous rows, 182 vs 351 ms; 3000 x 80
//   continuous, 236 vs 1068 ms). Its bins (max_bin 256) hold every distinct value of a knob
//   column, so on knob features the candidate splits are exactly those "exact" would try, which
//   keeps the AutoTVM baseline (XGBoost 1.x "auto" = exact on one machine) faithful.
//   Prediction: in place from the dense rows (XGBoosterPredictFromDense), which skips building a
//   DMatrix; for 64k x 80 rows that copy costs about as much as the prediction itself (~85 ms
//   through a DMatrix against ~50 ms in place, one thread). The trees and the summation order are
//   the same, so the values are bitwise those of XGBoosterPredictFromDMatrix.
//   Determinism: "seed" and "nthread" are always set (the same data, seed and thread count give
//   bitwise the same model); subsample defaults to 1, so the seed only matters below that.
//   Verbosity 0: XGBoost prints nothing; its errors come back through the exceptions.
//   Save format: UBJSON (XGBoost's own binary JSON), which keeps every float exactly.
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "ml2tuner/model.h"

namespace ml2 {
namespace {

void xgb_check(int rc, const char* call) {
  if (rc == 0) return;
  const char* err = XGBGetLastError();
  std::string text = err && *err ? err : "(no message)";
  // XGBoost appends its own C++ stack trace; the message before it is what a user can act on.
  if (size_t at = text.find("Stack trace:"); at != std::string::npos) text.erase(at);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  throw std::runtime_error(std::string(call) + " failed: " + text);
}

// Calls an XGBoost C API function and throws, naming it, when it fails.
#define ML2_XGB(fn, ...) ::ml2::xgb_check(fn(__VA_ARGS__), #fn)

// Owns a DMatrix handle.
class DMatrix {
 public:
  DMatrix() = default;
  ~DMatrix() {
    if (handle_) XGDMatrixFree(handle_);
  }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  DMatrixHandle* out() { return &handle_; }
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

// Owns a booster handle.
class BoosterPtr {
 public:
  BoosterPtr() = default;
  ~BoosterPtr() {
    if (handle_) XGBoosterFree(handle_);
  }
  BoosterPtr(const BoosterPtr&) = delete;
  BoosterPtr& operator=(const BoosterPtr&) = delete;
  BoosterHandle* out() { return &handle_; }
  BoosterHandle get() const { return handle_; }
  BoosterHandle release() { return std::exchange(handle_, nullptr); }

 private:
  BoosterHandle handle_ = nullptr;
};

// A decimal form of a double that reads back as the same value, for a parameter string.
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void set_param(BoosterHandle h, const char* name, const std::string& value) {
  ML2_XGB(XGBoosterSetParam, h, name, value.c_str());
}

void check_matrix(const FeatureMatrix& x, const char* what) {
  if (x.cols == 0) throw std::invalid_argument(std::string(what) + ": the matrix has no columns");
  if (x.values.size() != x.rows * x.cols) {
    throw std::invalid_argument(
        std::string(what) + ": the matrix holds " + std::to_string(x.values.size()) +
        " values, not rows x cols = " + std::to_string(x.rows) + " x " + std::to_string(x.cols));
  }
}

}  // namespace

struct Booster::Impl {
  BoosterHandle handle = nullptr;  // owned
  size_t num_features = 0;
  // XGBoost's learner is not documented as safe for concurrent calls on one handle.
  std::mutex mutex;

  ~Impl() {
    if (handle) XGBoosterFree(handle);
  }
};

Booster::Booster() = default;
Booster::~Booster() = default;
Booster::Booster(Booster&&) noexcept = default;
Booster& Booster::operator=(Booster&&) noexcept = default;

bool Booster::trained() const { return impl_ != nullptr; }

Booster Booster::train(const FeatureMatrix& x, const std::vector<float>& y,
                       const BoosterOptions& options, const std::vector<unsigned>& group) {
  return train(x, y, options, group, {});
}

Booster Booster::train(const FeatureMatrix& x, const std::vector<float>& y,
                       const BoosterOptions& options, const std::vector<unsigned>& group,
                       const std::function<bool(int round, const Booster&)>& after_round) {
  check_matrix(x, "Booster::train");
  if (x.rows == 0) throw std::invalid_argument("Booster::train: no rows");
  if (y.size() != x.rows) {
    throw std::invalid_argument("Booster::train: " + std::to_string(y.size()) + " labels for " +
                                std::to_string(x.rows) + " rows");
  }
  if (!group.empty()) {
    const unsigned long long sum = std::accumulate(group.begin(), group.end(), 0ULL);
    if (sum != x.rows) {
      throw std::invalid_argument("Booster::train: the groups sum to " + std::to_string(sum) +
                                  ", not to the " + std::to_string(x.rows) + " rows");
    }
  }
  if (options.rounds < 1) throw std::invalid_argument("Booster::train: rounds must be >= 1");
  if (options.threads < 1) throw std::invalid_argument("Booster::train: threads must be >= 1");
  const bool multi = options.objective.rfind("multi:", 0) == 0;
  if (multi && options.num_class < 2) {
    throw std::invalid_argument("Booster::train: " + options.objective + " needs num_class >= 2");
  }

  DMatrix dtrain;
  ML2_XGB(XGDMatrixCreateFromMat, x.values.data(), x.rows, x.cols,
          std::numeric_limits<float>::quiet_NaN(), dtrain.out());
  ML2_XGB(XGDMatrixSetFloatInfo, dtrain.get(), "label", y.data(), y.size());
  std::vector<unsigned> groups = group;
  if (groups.empty() && options.objective.rfind("rank:", 0) == 0) {
    groups.push_back(static_cast<unsigned>(x.rows));  // one query group holding every row
  }
  if (!groups.empty()) {
    ML2_XGB(XGDMatrixSetUIntInfo, dtrain.get(), "group", groups.data(), groups.size());
  }

  BoosterPtr booster;
  DMatrixHandle dmats[] = {dtrain.get()};
  ML2_XGB(XGBoosterCreate, dmats, 1, booster.out());
  BoosterHandle h = booster.get();
  set_param(h, "verbosity", "0");
  set_param(h, "nthread", std::to_string(options.threads));
  // XGBoost 1.7 seeds a 32-bit Mersenne Twister with it, dropping the high bits: fold them in
  // (seeds below 2^32 pass unchanged).
  set_param(h, "seed", std::to_string(static_cast<uint32_t>(options.seed ^ (options.seed >> 32))));
  set_param(h, "booster", "gbtree");
  set_param(h, "tree_method", "hist");
  set_param(h, "objective", options.objective);
  if (multi) set_param(h, "num_class", std::to_string(options.num_class));
  set_param(h, "max_depth", std::to_string(options.max_depth));
  set_param(h, "eta", number(options.eta));
  set_param(h, "gamma", number(options.gamma));
  set_param(h, "min_child_weight", number(options.min_child_weight));
  set_param(h, "subsample", number(options.subsample));
  set_param(h, "lambda", number(options.lambda));
  set_param(h, "alpha", number(options.alpha));
  if (options.base_score) set_param(h, "base_score", number(*options.base_score));

  // `out` owns the handle from here on, so that after_round can predict with the model as it
  // stands and an exception anywhere frees it.
  Booster out;
  out.impl_ = std::make_unique<Impl>();
  out.impl_->handle = booster.release();
  out.impl_->num_features = x.cols;
  for (int iter = 0; iter < options.rounds; ++iter) {
    {
      std::lock_guard lock(out.impl_->mutex);
      ML2_XGB(XGBoosterUpdateOneIter, out.impl_->handle, iter, dtrain.get());
    }
    if (after_round && !after_round(iter, out)) break;
  }
  return out;
}

std::vector<float> Booster::predict(const FeatureMatrix& x) const {
  if (!impl_) throw std::logic_error("Booster::predict: the booster is not trained");
  check_matrix(x, "Booster::predict");
  if (x.cols != impl_->num_features) {
    throw std::invalid_argument("Booster::predict: " + std::to_string(x.cols) +
                                " columns; the model was trained on " +
                                std::to_string(impl_->num_features));
  }
  if (x.rows == 0) return {};

  // In-place prediction from the dense rows (see the top of the file); NaN marks missing values.
  char values[192];
  std::snprintf(values, sizeof values,
                "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
                "\"version\": 3}",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(x.values.data())),
                x.rows, x.cols);
  static const char* const kConfig =
      "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
      "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  std::lock_guard lock(impl_->mutex);
  ML2_XGB(XGBoosterPredictFromDense, impl_->handle, values, kConfig, nullptr, &shape, &dim,
          &result);
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  if (n % x.rows != 0) {
    throw std::runtime_error("XGBoosterPredictFromDense failed: " + std::to_string(n) +
                             " predictions for " + std::to_string(x.rows) + " rows");
  }
  return std::vector<float>(result, result + n);
}

std::string Booster::save() const {
  if (!impl_) throw std::logic_error("Booster::save: the booster is not trained");
  std::lock_guard lock(impl_->mutex);
  bst_ulong len = 0;
  const char* data = nullptr;
  ML2_XGB(XGBoosterSaveModelToBuffer, impl_->handle, "{\"format\": \"ubj\"}", &len, &data);
  return std::string(data, len);
}

Booster Booster::load(const std::string& bytes, int threads) {
  if (threads < 1) throw std::invalid_argument("Booster::load: threads must be >= 1");
  if (bytes.empty()) throw std::invalid_argument("Booster::load: no bytes");
  BoosterPtr booster;
  ML2_XGB(XGBoosterCreate, nullptr, 0, booster.out());
  ML2_XGB(XGBoosterLoadModelFromBuffer, booster.get(), bytes.data(), bytes.size());
  set_param(booster.get(), "verbosity", "0");
  set_param(booster.get(), "nthread", std::to_string(threads));
  bst_ulong features = 0;
  ML2_XGB(XGBoosterGetNumFeature, booster.get(), &features);
  Booster out;
  out.impl_ = std::make_unique<Impl>();
  out.impl_->handle = booster.release();
  out.impl_->num_features = features;
  return out;
}

}  // namespace ml2
