// Tests of the replay target and the target registry, on the recorded spaces in shared/data
// (read in place) and on small synthetic files written to the temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "ml2tuner/replay.h"
#include "ml2tuner/target.h"

namespace ml2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string spaces_dir() { return std::string(ML2_SHARED_DATA) + "/spaces"; }

#define SKIP_WITHOUT_DATA()                                                                \
  do {                                                                                     \
    if (!fs::exists(spaces_dir())) GTEST_SKIP() << "no recorded data at " << spaces_dir(); \
  } while (0)

// A file in the temporary directory, removed at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& contents)
      : path_((fs::temp_directory_path() /
               ("ml2_replay_test_" + std::to_string(::getpid()) + "_" + name))
                  .string()) {
    std::ofstream out(path_, std::ios::binary);
    out << contents;
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Outcomes {
  int compile_errors = 0;
  int device_limits_at_build = 0;
  int runtime_errors = 0;
  int wrong_answers = 0;
  int device_limits_at_run = 0;
  int ok = 0;
  int other = 0;
};

// Builds and runs every configuration of the space.
Outcomes count_outcomes(const Target& t) {
  Outcomes o;
  for (uint64_t i = 0; i < t.space().size(); ++i) {
    const BuildResult b = t.build(t.space().at(i));
    if (b.status == Status::kCompileError) {
      ++o.compile_errors;
      continue;
    }
    if (b.status == Status::kDeviceLimitsExceeded) {
      ++o.device_limits_at_build;
      continue;
    }
    if (b.status != Status::kOk) {
      ++o.other;
      continue;
    }
    const RunResult r = t.run(b.artifact);
    switch (r.status) {
      case Status::kOk:
        ++o.ok;
        break;
      case Status::kRuntimeError:
        ++o.runtime_errors;
        break;
      case Status::kWrongAnswer:
        ++o.wrong_answers;
        break;
      case Status::kDeviceLimitsExceeded:
        ++o.device_limits_at_run;
        break;
      default:
        ++o.other;
        break;
    }
  }
  return o;
}

// The runtime_error message of loading `path`; fails the test if loading succeeds.
std::string load_error(const std::string& path) {
  try {
    make_replay_target(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "loading " << path << " did not throw";
  return "";
}

void expect_one_line_error(const std::string& path, const std::string& fragment) {
  const std::string msg = load_error(path);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.rfind(path, 0), 0u) << "message should start with the path: " << msg;
  EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
}

// ----------------------------------------------------------------------------------------------
// Kernel Tuner caches

TEST(ReplayKernelTuner, Convolution3090Outcomes) {
  SKIP_WITHOUT_DATA();
  auto t = make_replay_target(spaces_dir() + "/kerneltuner/convolution/RTX_3090.json.gz");
  EXPECT_EQ(t->name(), "replay");
  EXPECT_EQ(t->task(), "convolution_kernel@NVIDIA GeForce RTX 3090");
  EXPECT_GT(t->max_parallel_runs(), 1);
  ASSERT_EQ(t->space().size(), 6768u);
  ASSERT_EQ(t->space().num_knobs(), 8u);
  EXPECT_EQ(t->space().knobs()[0].name(), "block_size_x");
  EXPECT_EQ(t->space().knobs()[7].name(), "use_padding");

  const Outcomes o = count_outcomes(*t);
  EXPECT_EQ(o.compile_errors, 1426);
  EXPECT_EQ(o.runtime_errors, 122);
  EXPECT_EQ(o.ok, 5220);
  EXPECT_EQ(o.other + o.wrong_answers + o.device_limits_at_build + o.device_limits_at_run, 0);
}

TEST(ReplayKernelTuner, Convolution3090RecordedValues) {
  SKIP_WITHOUT_DATA();
  auto t = make_replay_target(spaces_dir() + "/kerneltuner/convolution/RTX_3090.json.gz");
  auto config = [&](int bx, int by, int ro, int tx, int ty, int pad) {
    return t->space().from_json(json{{"block_size_x", bx},
                                     {"block_size_y", by},
                                     {"filter_height", 15},
                                     {"filter_width", 15},
                                     {"read_only", ro},
                                     {"tile_size_x", tx},
                                     {"tile_size_y", ty},
                                     {"use_padding", pad}});
  };

  // "2,32,15,15,0,1,1,0": time 7.001590442657471, times from 6.532095909118652 to
  // 7.517183780670166, compile_time 0.16948..., benchmark_time 70.394..., verification_time 0.
  const BuildResult b = t->build(config(2, 32, 0, 1, 1, 0));
  ASSERT_EQ(b.status, Status::kOk) << b.message;
  EXPECT_TRUE(b.hidden.empty());
  EXPECT_DOUBLE_EQ(b.virtual_s, 0.16948021948337555 / 1000);
  const RunResult r = t->run(b.artifact);
  ASSERT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_EQ(r.latency.mean_ms, 7.001590442657471);  // exactly the recorded value
  EXPECT_EQ(r.latency.min_ms, 6.532095909118652);
  EXPECT_EQ(r.latency.max_ms, 7.517183780670166);
  EXPECT_EQ(r.latency.repeats, 10);
  EXPECT_GT(r.latency.std_ms, 0);
  EXPECT_DOUBLE_EQ(r.virtual_s, 70.39430178701878 / 1000);

  // "2,32,15,15,0,1,1,1" and "2,32,15,15,0,1,2,0".
  const RunResult r2 = t->run(t->build(config(2, 32, 0, 1, 1, 1)).artifact);
  ASSERT_EQ(r2.status, Status::kOk) << r2.message;
  EXPECT_EQ(r2.latency.mean_ms, 1.8145983815193176);
  const RunResult r3 = t->run(t->build(config(2, 32, 0, 1, 2, 0)).artifact);
  ASSERT_EQ(r3.status, Status::kOk) << r3.message;
  EXPECT_EQ(r3.latency.mean_ms, 6.411878490447998);

  // "128,8,15,15,1,8,3,0" is a recorded compile failure.
  const BuildResult failed = t->build(config(128, 8, 1, 8, 3, 0));
  EXPECT_EQ(failed.status, Status::kCompileError);
  EXPECT_NE(failed.message.find("CompilationFailedConfig"), std::string::npos) << failed.message;
  EXPECT_TRUE(failed.artifact.empty());
  EXPECT_DOUBLE_EQ(failed.virtual_s, 1472.6667441427708 / 1000);
}

TEST(ReplayKernelTuner, RejectsMalformedArtifacts) {
  SKIP_WITHOUT_DATA();
  auto t = make_replay_target(spaces_dir() + "/kerneltuner/convolution/RTX_3090.json.gz");
  for (const std::string& artifact :
       {std::string(), std::string("abc"), std::string("12x"), std::string("-1"), std::string(" 1"),
        std::string("6768"), std::string("99999999999999999999999"),
        std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8)}) {
    const RunResult r = t->run(artifact);
    EXPECT_EQ(r.status, Status::kRuntimeError) << "artifact '" << artifact << "'";
    EXPECT_EQ(r.message.find('\n'), std::string::npos);
  }
  // A configuration outside the space is refused at build time, not thrown.
  Config bad(t->space().num_knobs(), 0);
  bad[0] = 1000;
  EXPECT_NE(t->build(bad).status, Status::kOk);
  EXPECT_NE(t->build(Config{0}).status, Status::kOk);
}

TEST(ReplayKernelTuner, ExpdistUnterminatedWithFailuresUnderObjective) {
  SKIP_WITHOUT_DATA();
  auto t = make_replay_target(spaces_dir() +
                              "/kerneltuner/expdist/"
                              "expdist_NVIDIA_RTX_A4000_size-32768x32768_cache.json.gz");
  EXPECT_EQ(t->task(), "ExpDist@NVIDIA RTX A4000");
  ASSERT_EQ(t->space().size(), 2885u);
  int compile_errors = 0;
  int ok_with_regs = 0;
  int ok = 0;
  for (uint64_t i = 0; i < t->space().size(); ++i) {
    const BuildResult b = t->build(t->space().at(i));
    if (b.status == Status::kCompileError) {
      ++compile_errors;
      EXPECT_GT(b.virtual_s, 0);  // compile_time is recorded for failures too
      continue;
    }
    ASSERT_EQ(b.status, Status::kOk) << b.message;
    if (b.hidden.count("num_regs") && b.hidden.count("registers")) ++ok_with_regs;
    const RunResult r = t->run(b.artifact);
    ASSERT_EQ(r.status, Status::kOk) << r.message;
    EXPECT_GT(r.latency.mean_ms, 0);
    ++ok;
  }
  EXPECT_EQ(compile_errors, 1380);
  EXPECT_EQ(ok, 2885 - 1380);
  EXPECT_EQ(ok_with_regs, ok);
}

TEST(ReplayKernelTuner, HotspotUnterminated) {
  SKIP_WITHOUT_DATA();
  auto t = make_replay_target(spaces_dir() +
                              "/kerneltuner/hotspot/"
                              "hotspot_NVIDIA_RTX_A4000_size-8192x8192_cache.json.gz");
  EXPECT_EQ(t->task(), "calculate_temp@NVIDIA RTX A4000");
  EXPECT_EQ(t->space().size(), 1660u);
  const Outcomes o = count_outcomes(*t);
  EXPECT_EQ(o.ok, 1660);
  EXPECT_EQ(t->build(t->space().at(0)).hidden.count("num_regs"), 1u);
}

TEST(ReplayKernelTuner, GemmLoadsQuickly) {
  SKIP_WITHOUT_DATA();
  const auto start = std::chrono::steady_clock::now();
  auto t = make_replay_target(spaces_dir() + "/kerneltuner/gemm/RTX_3090.json.gz");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("gemm RTX_3090 cache loaded in %.3f s\n", s);
  RecordProperty("gemm_load_s", std::to_string(s));
  EXPECT_EQ(t->space().size(), 17956u);
  EXPECT_EQ(t->space().num_knobs(), 15u);
  // The first entry, "16,16,32,8,8,8,8,2,1,1,0,0,0,0,32": time 46.072413 over 32 repeats.
  const Config c = t->space().from_json(json{{"MWG", 16},
                                             {"NWG", 16},
                                             {"KWG", 32},
                                             {"MDIMC", 8},
                                             {"NDIMC", 8},
                                             {"MDIMA", 8},
                                             {"NDIMB", 8},
                                             {"KWI", 2},
                                             {"VWM", 1},
                                             {"VWN", 1},
                                             {"STRM", 0},
                                             {"STRN", 0},
                                             {"SA", 0},
                                             {"SB", 0},
                                             {"PRECISION", 32}});
  const BuildResult b = t->build(c);
  ASSERT_EQ(b.status, Status::kOk);
  const RunResult r = t->run(b.artifact);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.latency.mean_ms, 46.072413);
  EXPECT_EQ(r.latency.repeats, 32);
  EXPECT_EQ(r.latency.min_ms, 45.631488);
  EXPECT_EQ(r.latency.max_ms, 46.676992);
}

// ----------------------------------------------------------------------------------------------
// KTT outputs

TEST(ReplayKtt, Convolution3090) {
  SKIP_WITHOUT_DATA();
  auto t = make_replay_target(spaces_dir() + "/ktt/convolution/KTConvolutionOutput_3090.json.gz");
  EXPECT_EQ(t->task(), "Convolution@NVIDIA GeForce RTX 3090");
  ASSERT_EQ(t->space().size(), 6768u);
  ASSERT_EQ(t->space().num_knobs(), 9u);
  EXPECT_EQ(t->space().knobs()[0].name(), "BLOCK_SIZE_X");
  EXPECT_EQ(t->space().knobs()[8].name(), "READ_ONLY");

  const Outcomes o = count_outcomes(*t);
  EXPECT_EQ(o.compile_errors, 0);
  EXPECT_EQ(o.runtime_errors, 1528);  // all failures surface at run time
  EXPECT_EQ(o.ok, 6768 - 1528);
  EXPECT_EQ(o.other + o.wrong_answers + o.device_limits_at_build + o.device_limits_at_run, 0);

  // The first result: BLOCK_SIZE 2x32, tiles 1x1, no padding, HFS 7, not read-only.
  const Config c = t->space().from_json(json{{"BLOCK_SIZE_X", 2},
                                             {"BLOCK_SIZE_Y", 32},
                                             {"TILE_SIZE_X", 1},
                                             {"TILE_SIZE_Y", 1},
                                             {"PADDING", 0},
                                             {"IMAGE_WIDTH", 4096},
                                             {"IMAGE_HEIGHT", 4096},
                                             {"HFS", 7},
                                             {"READ_ONLY", 0}});
  const BuildResult b = t->build(c);
  ASSERT_EQ(b.status, Status::kOk) << b.message;
  EXPECT_EQ(b.hidden.at("registers"), 28);
  EXPECT_EQ(b.hidden.at("shared_memory_bytes"), 2944);
  EXPECT_EQ(b.hidden.at("local_memory_bytes"), 0);
  EXPECT_EQ(b.hidden.at("constant_memory_bytes"), 4356);
  EXPECT_EQ(b.hidden.at("max_block_size"), 1024);
  EXPECT_DOUBLE_EQ(b.virtual_s, 276986.685e-6);
  const RunResult r = t->run(b.artifact);
  ASSERT_EQ(r.status, Status::kOk) << r.message;
  EXPECT_DOUBLE_EQ(r.latency.mean_ms, 7.368064);
  EXPECT_EQ(r.latency.repeats, 1);
  EXPECT_DOUBLE_EQ(r.virtual_s, (7368.064 + 12152.562 + 4.899) * 1e-6);

  // A failed result: 32x32 block, 1x8 tiles; empty ComputationResults, so no hidden features.
  const Config f = t->space().from_json(json{{"BLOCK_SIZE_X", 32},
                                             {"BLOCK_SIZE_Y", 32},
                                             {"TILE_SIZE_X", 1},
                                             {"TILE_SIZE_Y", 8},
                                             {"PADDING", 0},
                                             {"IMAGE_WIDTH", 4096},
                                             {"IMAGE_HEIGHT", 4096},
                                             {"HFS", 7},
                                             {"READ_ONLY", 0}});
  const BuildResult fb = t->build(f);
  ASSERT_EQ(fb.status, Status::kOk);
  EXPECT_TRUE(fb.hidden.empty());
  const RunResult fr = t->run(fb.artifact);
  EXPECT_EQ(fr.status, Status::kRuntimeError);
  EXPECT_NE(fr.message.find("ComputationFailed"), std::string::npos) << fr.message;
}

TEST(ReplayKtt, CoulombPlainJson) {
  SKIP_WITHOUT_DATA();
  auto t = make_replay_target(spaces_dir() + "/ktt/coulomb/coulomb_2080_full_search_space.json");
  EXPECT_EQ(t->task(), "directCoulombSum_kernel@NVIDIA GeForce RTX 2080 Ti");
  EXPECT_EQ(t->space().size(), 210u);
  const Outcomes o = count_outcomes(*t);
  EXPECT_EQ(o.ok, 210);
  EXPECT_EQ(t->build(t->space().at(0)).hidden.size(), 5u);
}

TEST(ReplayKtt, SyntheticStatusesAndUnits) {
  auto result = [](int x, const char* status, double duration) {
    json r = {{"Configuration", {{{"Name", "X"}, {"Value", x}}}},
              {"KernelName", "k"},
              {"Status", status},
              {"DataMovementOverhead", 1.0},
              {"ValidationOverhead", 0.5}};
    if (std::string(status) == "Ok" || std::string(status) == "ValidationFailed") {
      r["ComputationResults"] = {{{"Duration", duration},
                                  {"Overhead", 2.0},
                                  {"CompilationData", {{"RegistersCount", 12}}}}};
    } else {
      r["ComputationResults"] = json::array();
    }
    return r;
  };
  json doc = {{"Metadata", {{"Device", "dev"}, {"TimeUnit", "Milliseconds"}}},
              {"Results",
               {result(8, "Ok", 3.5), result(2, "ValidationFailed", 1.0),
                result(4, "DeviceLimitsExceeded", 0), result(1, "CompilationFailed", 0),
                result(16, "ComputationFailed", 0)}}};
  TempFile file("ktt.json", doc.dump());
  auto t = make_replay_target(file.path());
  EXPECT_EQ(t->task(), "k@dev");
  ASSERT_EQ(t->space().size(), 5u);
  // The domain is sorted.
  const Knob& k = t->space().knobs()[0];
  ASSERT_EQ(k.size(), 5u);
  EXPECT_EQ(k.to_json(0), json(1));
  EXPECT_EQ(k.to_json(4), json(16));

  auto at = [&](int x) { return t->space().from_json(json{{"X", x}}); };
  const BuildResult ok = t->build(at(8));
  ASSERT_EQ(ok.status, Status::kOk);
  EXPECT_EQ(ok.hidden.at("registers"), 12);
  EXPECT_DOUBLE_EQ(ok.virtual_s, 0.002);
  const RunResult okr = t->run(ok.artifact);
  ASSERT_EQ(okr.status, Status::kOk);
  EXPECT_DOUBLE_EQ(okr.latency.mean_ms, 3.5);
  EXPECT_DOUBLE_EQ(okr.virtual_s, 0.005);

  EXPECT_EQ(t->run(t->build(at(2)).artifact).status, Status::kWrongAnswer);
  EXPECT_EQ(t->run(t->build(at(4)).artifact).status, Status::kDeviceLimitsExceeded);
  EXPECT_EQ(t->build(at(1)).status, Status::kCompileError);
  EXPECT_EQ(t->run(t->build(at(16)).artifact).status, Status::kRuntimeError);
}

// ----------------------------------------------------------------------------------------------
// Synthetic Kernel Tuner caches and bad input

// A small cache in Kernel Tuner's layout; `entries` is the text of the cache object's members.
std::string synthetic_cache(const std::string& entries, bool closed = true) {
  std::string s = R"({
"device_name": "Test GPU",
"kernel_name": "k",
"tune_params_keys": ["a", "b"],
"tune_params": {"a": [1, 2, 4], "b": ["x", "y"]},
"objective": "time",
"cache": {
)" + entries;
  if (closed) s += "}\n}\n";
  return s;
}

const std::string kEntries =
    R"("1,x": {"a": 1, "b": "x", "time": 1.5, "times": [1.0, 2.0], "compile_time": 100, "benchmark_time": 20, "verification_time": 10, "num_regs": 32},
"2,x": {"a": 2, "b": "x", "time": "CompilationFailedConfig", "compile_time": 50},
"4,x": {"a": 4, "b": "x", "time": "RuntimeFailedConfig", "registers": 255},
"1,y": {"a": 1, "b": "y", "time": "InvalidConfig"},
"4,y": {"time": 0.25})";

TEST(ReplaySynthetic, ClosedAndUnterminatedCachesAgree) {
  TempFile closed("closed.json", synthetic_cache(kEntries));
  TempFile open_comma("open_comma.json", synthetic_cache(kEntries + ",\n", false));
  TempFile open_brace("open_brace.json", synthetic_cache(kEntries + "\n", false));
  for (const TempFile* f : {&closed, &open_comma, &open_brace}) {
    SCOPED_TRACE(f->path());
    auto t = make_replay_target(f->path());
    EXPECT_EQ(t->task(), "k@Test GPU");
    ASSERT_EQ(t->space().size(), 5u);
    auto at = [&](json a, json b) { return t->space().from_json(json{{"a", a}, {"b", b}}); };

    const BuildResult ok = t->build(at(1, "x"));
    ASSERT_EQ(ok.status, Status::kOk);
    EXPECT_EQ(ok.hidden.at("num_regs"), 32);
    EXPECT_DOUBLE_EQ(ok.virtual_s, 0.1);
    const RunResult r = t->run(ok.artifact);
    ASSERT_EQ(r.status, Status::kOk);
    EXPECT_EQ(r.latency.mean_ms, 1.5);
    EXPECT_EQ(r.latency.min_ms, 1.0);
    EXPECT_EQ(r.latency.max_ms, 2.0);
    EXPECT_EQ(r.latency.repeats, 2);
    EXPECT_DOUBLE_EQ(r.virtual_s, 0.03);

    EXPECT_EQ(t->build(at(2, "x")).status, Status::kCompileError);
    const BuildResult rf = t->build(at(4, "x"));
    ASSERT_EQ(rf.status, Status::kOk);  // runtime failures surface only at run time
    EXPECT_EQ(rf.hidden.at("registers"), 255);
    EXPECT_EQ(t->run(rf.artifact).status, Status::kRuntimeError);
    EXPECT_EQ(t->build(at(1, "y")).status, Status::kDeviceLimitsExceeded);

    // "4,y" has no parameter fields: the values come from the key.
    const RunResult from_key = t->run(t->build(at(4, "y")).artifact);
    ASSERT_EQ(from_key.status, Status::kOk);
    EXPECT_EQ(from_key.latency.mean_ms, 0.25);
    EXPECT_EQ(from_key.latency.repeats, 1);

    // Not recorded: outside the space.
    EXPECT_FALSE(t->space().contains(Config{1, 1}));
  }
}

TEST(ReplaySynthetic, FailureMarkerUnderObjective) {
  const std::string text = R"({"kernel_name": "k", "device_name": "d",
"tune_params_keys": ["a"], "tune_params": {"a": [1, 2]}, "objective": "GFLOP/s",
"cache": {"1": {"a": 1, "GFLOP/s": "CompilationFailedConfig", "compile_time": 5},
"2": {"a": 2, "GFLOP/s": 10.0, "time": 3.0},)";
  TempFile f("objective.json", text);
  auto t = make_replay_target(f.path());
  EXPECT_EQ(t->build(t->space().from_json(json{{"a", 1}})).status, Status::kCompileError);
  const RunResult r = t->run(t->build(t->space().from_json(json{{"a", 2}})).artifact);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.latency.mean_ms, 3.0);
}

TEST(ReplayBadInput, MissingFile) {
  const std::string path =
      (fs::temp_directory_path() / "ml2_replay_test_definitely_missing.json.gz").string();
  expect_one_line_error(path, "no such file");
}

TEST(ReplayBadInput, TruncatedGzip) {
  SKIP_WITHOUT_DATA();
  const std::string whole = read_bytes(spaces_dir() + "/kerneltuner/convolution/RTX_3090.json.gz");
  ASSERT_GT(whole.size(), 1000u);
  TempFile half("half.json.gz", whole.substr(0, whole.size() / 2));
  expect_one_line_error(half.path(), "truncated gzip stream");
}

TEST(ReplayBadInput, TruncatedMidEntry) {
  const std::string text = synthetic_cache(kEntries, false);
  // Cut inside the first entry's `times` list.
  TempFile f("mid_entry.json", text.substr(0, text.find("2.0]")));
  expect_one_line_error(f.path(), "malformed JSON");
  TempFile g("mid_entry2.json", text.substr(0, text.find("\"compile_time\": 50")));
  expect_one_line_error(g.path(), "malformed JSON");
}

TEST(ReplayBadInput, MalformedJson) {
  TempFile f("garbage.json", "{\"cache\": {\n\"a\": [1, 2,,]\n}\n}\n");
  expect_one_line_error(f.path(), "malformed JSON");
  TempFile empty("empty.json", "");
  expect_one_line_error(empty.path(), "malformed JSON");
}

TEST(ReplayBadInput, WrongShape) {
  TempFile f("shape.json", R"({"foo": 1, "bar": [1, 2]})");
  expect_one_line_error(f.path(), "neither a Kernel Tuner cache nor a KTT output file");
  TempFile g("array.json", "[1, 2, 3]\n");
  expect_one_line_error(g.path(), "neither a Kernel Tuner cache nor a KTT output file");
  TempFile h("cache_only.json", R"({"cache": {}})");
  expect_one_line_error(h.path(), "neither a Kernel Tuner cache nor a KTT output file");
}

TEST(ReplayBadInput, ValueOutsideTuneParams) {
  TempFile f("outside.json", synthetic_cache(R"("1,x": {"a": 1, "b": "x", "time": 1.0},
"3,x": {"a": 3, "b": "x", "time": 2.0})"));
  const std::string msg = load_error(f.path());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("'3,x'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a = 3"), std::string::npos) << msg;

  TempFile g("outside_key.json", synthetic_cache(R"("1,z": {"time": 1.0})"));
  const std::string msg2 = load_error(g.path());
  EXPECT_NE(msg2.find("b = z"), std::string::npos) << msg2;
}

TEST(ReplayBadInput, UnknownFailureMarkerAndMissingTime) {
  TempFile f("marker.json", synthetic_cache(R"("1,x": {"a": 1, "b": "x", "time": "Oops"})"));
  expect_one_line_error(f.path(), "Oops");
  TempFile g("notime.json", synthetic_cache(R"("1,x": {"a": 1, "b": "x"})"));
  expect_one_line_error(g.path(), "time");
}

TEST(ReplayBadInput, ANumberBeyondADouble) {
  // Python writes an infinity as Infinity, which is no JSON; 1e400 is a number no double holds.
  TempFile f("inf.json",
             synthetic_cache(R"("1,x": {"a": 1, "b": "x", "time": 1.0, "num_regs": 1e400})"));
  expect_one_line_error(f.path(),
                        "malformed JSON: [json.exception.out_of_range.406] number overflow");
}

TEST(ReplayBadInput, ATimeThatIsNoTime) {
  // A recorded time of zero or below is no measurement: the file is refused (the models would
  // learn from it, and it would be the space's optimum).
  TempFile f("negative.json", synthetic_cache(R"("1,x": {"a": 1, "b": "x", "time": -1.5})"));
  expect_one_line_error(f.path(), "cache entry '1,x': time -1.5 is not a positive number");
  TempFile g("zero.json", synthetic_cache(R"("1,x": {"a": 1, "b": "x", "time": 0})"));
  expect_one_line_error(g.path(), "time 0 is not a positive number of milliseconds");
  // Repeats that are no time leave the recorded mean alone.
  TempFile h("times.json",
             synthetic_cache(R"("1,x": {"a": 1, "b": "x", "time": 2.0, "times": [2.0, -1.0]})"));
  auto t = make_replay_target(h.path());
  const RunResult r = t->run(t->build(t->space().at(0)).artifact);
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_DOUBLE_EQ(r.latency.mean_ms, 2.0);
  EXPECT_DOUBLE_EQ(r.latency.min_ms, 2.0);
  // KTT: a result Ok with no duration.
  json doc = {{"Metadata", {{"Device", "dev"}, {"TimeUnit", "Milliseconds"}}},
              {"Results",
               {{{"Configuration", {{{"Name", "X"}, {"Value", 1}}}},
                 {"KernelName", "k"},
                 {"Status", "Ok"},
                 {"ComputationResults", {{{"Duration", 0.0}}}}}}}};
  TempFile k("ktt_zero.json", doc.dump());
  expect_one_line_error(k.path(), "result 0 is Ok with a duration of 0");
  // A duration that is a number, but no number of milliseconds once converted.
  doc["Metadata"]["TimeUnit"] = "Seconds";
  doc["Results"][0]["ComputationResults"][0]["Duration"] = 1e306;
  TempFile big("ktt_big.json", doc.dump());
  expect_one_line_error(big.path(), "result 0 is Ok with a duration of 1e+306 (Seconds)");
}

// ----------------------------------------------------------------------------------------------
// Registry

TEST(TargetRegistry, Names) {
  const auto names = target_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "replay"), names.end());
}

TEST(TargetRegistry, UnknownTargetListsKnownOnes) {
  try {
    make_target("nope", TargetOptions{});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown target 'nope'; known targets: vta, replay");
  }
}

TEST(TargetRegistry, ReplayNeedsASpaceFile) {
  try {
    make_target("replay", TargetOptions{});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--space FILE"), std::string::npos) << e.what();
  }
}

TEST(TargetRegistry, ReplayBadFileIsInvalidArgument) {
  const std::string path =
      (fs::temp_directory_path() / "ml2_replay_test_definitely_missing.json").string();
  EXPECT_THROW(make_target("replay", TargetOptions{.space = path}), std::invalid_argument);
}

TEST(TargetRegistry, MakesReplay) {
  TempFile f("registry.json", synthetic_cache(kEntries));
  auto t = make_target("replay", TargetOptions{.space = f.path()});
  EXPECT_EQ(t->name(), "replay");
  EXPECT_EQ(t->space().size(), 5u);
}

}  // namespace
}  // namespace ml2
