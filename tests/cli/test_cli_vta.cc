// End-to-end tests of the ml2tuner executable on the VTA target.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ml2tuner/replay.h"
#include "ml2tuner/vta.h"
#include "vta/simulator.h"

namespace ml2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kValidC9 =
    R"('{"tile_b":[1,1],"tile_h":[1,7],"tile_w":[1,7],"tile_ci":[16,1],"tile_co":[8,4],"oc_nthread":2,"h_nthread":1}')";

class CliVta : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ml2tuner-cli-vta-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  struct Result {
    int status = -1;
    std::string out, err;
  };
  Result cli(const std::string& args) const {
    const std::string cmd = std::string(ML2_CLI_PATH) + " " + args + " >" + file("out.txt") +
                            " 2>" + file("err.txt") + " </dev/null";
    const int raw = std::system(cmd.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = read(file("out.txt"));
    r.err = read(file("err.txt"));
    return r;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
};

TEST_F(CliVta, TasksListsTheResNetLayersWithAutoTvmSpaceSizes) {
  Result r = cli("tasks");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("resnet18.C2"), std::string::npos);
  EXPECT_NE(r.out.find("2304"), std::string::npos);
  EXPECT_NE(r.out.find("resnet18.C11"), std::string::npos);
  EXPECT_NE(r.out.find("stock"), std::string::npos);
}

TEST_F(CliVta, CompileShowsHiddenFeaturesOrTheError) {
  Result ok = cli(std::string("compile --task resnet18.C9 --config ") + kValidC9);
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("insn.GEMM"), std::string::npos);
  EXPECT_NE(ok.out.find("sram_util.acc"), std::string::npos);
  std::string bad = kValidC9;
  bad.replace(bad.find("[16,1]"), 6, "[4,4]");
  Result err = cli("compile --task resnet18.C9 --config " + bad);
  EXPECT_EQ(err.status, 1);
  EXPECT_NE(err.out.find("compile error: Do not support pad on the innermost block"),
            std::string::npos);
}

TEST_F(CliVta, DumpedProgramRunsFromItsFilesAlone) {
  Result r = cli(std::string("compile --task resnet18.C9 --config ") + kValidC9 + " --dump " +
                 file("dump"));
  ASSERT_EQ(r.status, 0) << r.err;
  const json meta = json::parse(read(file("dump/program.json")));
  const std::string insns = read(file("dump/insns.bin")), uops = read(file("dump/uops.bin"));
  ASSERT_EQ(insns.size(), meta["insn_count"].get<size_t>() * 16);
  ASSERT_EQ(uops.size(), meta["uop_count"].get<size_t>() * 4);
  EXPECT_TRUE(fs::exists(file("dump/README.md")));
  // Load the DRAM image from the files and check that the instruction bytes decode into a
  // program the simulator runs to the expected output.
  vta::Program p;
  p.workload = vta::Workload::parse("resnet18.C9");
  p.data_seed = meta["data_seed"];
  p.inp_addr = meta["inp_addr"];
  p.wgt_addr = meta["wgt_addr"];
  p.out_addr = meta["out_addr"];
  p.uop_addr = meta["uop_addr"];
  p.dram_bytes = meta["dram_bytes"];
  p.insns.resize(meta["insn_count"].get<size_t>());
  std::memcpy(p.insns.data(), insns.data(), insns.size());
  p.uops.resize(meta["uop_count"].get<size_t>());
  std::memcpy(p.uops.data(), uops.data(), uops.size());
  const vta::HwConfig hw = vta::HwConfig::from_json(meta["hardware"]);
  EXPECT_EQ(vta::simulate(hw, p).status, Status::kOk);
  EXPECT_EQ(read(file("dump/inp.bin")).size(), 256u * 14 * 14);
  EXPECT_EQ(read(file("dump/expected_out.bin")).size(), 512u * 7 * 7);
}

TEST_F(CliVta, SweepWritesGroundTruthThatReplays) {
  Result s = cli("sweep --task resnet18.C9 --jobs 2 --quiet --out " + file("c9.json.gz") +
                 " --summary " + file("sum.json"));
  ASSERT_EQ(s.status, 0) << s.err;
  const json sum = json::parse(read(file("sum.json")));
  EXPECT_EQ(sum["space_size"], 480);
  EXPECT_EQ(sum["counts"]["ok"].get<int>() + sum["counts"]["compile_error"].get<int>(), 480);
  EXPECT_GT(sum["counts"]["ok"].get<int>(), 50);
  EXPECT_TRUE(sum["best_latency_ms"].is_number());
  EXPECT_TRUE(sum["best_config"].is_object());
  // The Kernel Tuner cache replays: grid over it finds the same best latency.
  Result t = cli("tune --target replay --space " + file("c9.json.gz") +
                 " --tuner grid --trials 480 --quiet --summary " + file("replay.json"));
  ASSERT_EQ(t.status, 0) << t.err;
  const json rep = json::parse(read(file("replay.json")));
  EXPECT_EQ(rep["trials"], 480);
  EXPECT_DOUBLE_EQ(rep["best_latency_ms"].get<double>(), sum["best_latency_ms"].get<double>());
  EXPECT_EQ(rep["build_failures"], sum["counts"]["compile_error"]);
  // Every configuration replays with the hidden features its VTA build gives.
  VtaOptions o;
  o.task = "resnet18.C9";
  const auto vta = make_vta_target(o);
  const auto replay = make_replay_target(file("c9.json.gz"));
  ASSERT_EQ(replay->space().size(), vta->space().size());
  size_t with_hidden = 0;
  for (uint64_t i = 0; i < vta->space().size(); ++i) {
    const Config c = vta->space().at(i);
    json key = vta->space().to_json(c);  // the cache writes a split as its inner factor
    for (auto& [name, v] : key.items()) {
      if (v.is_array()) v = v[1];
    }
    const BuildResult built = vta->build(c),
                      replayed = replay->build(replay->space().from_json(key));
    EXPECT_EQ(replayed.hidden, built.hidden) << key.dump();
    with_hidden += !replayed.hidden.empty() && replayed.hidden.count("estimate");
  }
  EXPECT_EQ(with_hidden, sum["counts"]["ok"].get<size_t>());
}

TEST_F(CliVta, TuneDefaultsToTheVtaTarget) {
  Result r = cli("tune --trials 12 --quiet --summary " + file("t.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  const json s = json::parse(read(file("t.json")));
  EXPECT_EQ(s["target"], "vta");
  EXPECT_EQ(s["task"], "resnet18.C2@vta-1x16_i8w8a32_15_15_18_17/stock");
  EXPECT_EQ(s["trials"], 12);
}

TEST_F(CliVta, AStoreExportsAsAKernelTunerCacheWithTheWorkloadAndTemplateItNames) {
  ASSERT_EQ(
      cli("tune --task resnet18.C9 --template extended --tuner xgb --trials 24 --quiet --db " +
          file("v.db") + " --summary " + file("v.json"))
          .status,
      0);
  const Result r = cli("export --db " + file("v.db") + " --format kernel-tuner --out " +
                       file("v.cache.json"));  // no --task, no --template: the store's
  ASSERT_EQ(r.status, 0) << r.err;
  const json cache = json::parse(read(file("v.cache.json")));
  EXPECT_EQ(cache["kernel_name"], "resnet18.C9");
  EXPECT_EQ(cache["device_name"], "vta-1x16_i8w8a32_15_15_18_17/extended");
  const json s = json::parse(read(file("v.json")));
  const Result replayed = cli("tune --target replay --space " + file("v.cache.json") +
                              " --tuner grid --trials 1000 --summary " + file("r.json"));
  ASSERT_EQ(replayed.status, 0) << replayed.err;
  EXPECT_EQ(json::parse(read(file("r.json")))["best_latency_ms"], s["best_latency_ms"]);
  // Given, the options must be the store's.
  EXPECT_EQ(cli("export --db " + file("v.db") + " --format kernel-tuner --template stock").status,
            2);
}

TEST_F(CliVta, AConfigWrittenInlineIsNeverTakenForAFileName) {
  // An indented object is longer than a file name may be (255 bytes): it was looked up as a file.
  const std::string config = R"({
      "h_nthread": 1,        "oc_nthread": 1,
      "tile_b": [1, 1],      "tile_ci": [16, 1],
      "tile_co": [2, 16],    "tile_h": [14, 1],
      "tile_w": [14, 1],     "order": "co_h_w",
      "fold": "none"                                                                   })";
  ASSERT_GT(config.size(), 255u);
  const Result r = cli("compile --task resnet18.C9 --config '" + config + "'");
  EXPECT_NE(r.err.find("knob"), std::string::npos) << r.err;  // parsed: checked against the space
  EXPECT_EQ(r.err.find("File name too long"), std::string::npos) << r.err;
}

TEST_F(CliVta, BadInputGetsOneLine) {
  std::ofstream(file("hw.json")) << R"({"LOG_BLOCK": 4, "LOG_WGT_BUFF_SIZE": 23})";
  std::ofstream(file("wrap.json")) << R"({"LOG_BLOCK": 4294967300})";  // was read as 4
  std::ofstream(file("clock.json")) << R"({"CLOCK_MHZ": 5e-324})";     // gave infinite times
  const std::pair<std::string, std::string> cases[] = {
      {"tune --task resnet18.C1", "unknown workload 'resnet18.C1'"},
      {"tune --task conv2d:h=4,w=4,ci=16,co=16,k=9", "kernel is larger than the padded input"},
      {"tune --task conv2d:h=8,w=8,ci=20,co=16,k=3", "multiples of the block size"},
      {"tune --template huge", "templates: stock, extended"},
      {"tune --hw " + file("hw.json"), "inconsistent hardware configuration"},
      {"compile --task resnet18.C9 --config '{\"tile_q\": 1}'", "unknown knob 'tile_q'"},
      {"compile --task resnet18.C9 --config '{\"oc_nthread\": 3}'",
       "knob 'oc_nthread' has no value 3"},
      {"compile --task resnet18.C9 --config /tmp", "--config /tmp is a folder"},
      // Sizes a digit too long are named, not simulated for hours (or divided by).
      {"space --task conv2d:h=14,w=14,ci=16,co=16,k=3,stride=0", "sizes must be positive"},
      {"space --task conv2d:h=14,w=14,ci=16,co=16,k=3,n=9223372036854775807",
       "n must be at most 256"},
      {"space --task conv2d:h=4294967296,w=14,ci=16,co=16,k=3", "h and w must be at most 4096"},
      {"space --task dense:ci=16,co=99999999", "ci and co must be at most 65536"},
      {"space --task conv2d:h=4096,w=4096,ci=4096,co=4096,k=3",
       "2.53e+15 multiply-accumulates, more than 1e11"},
      {"space --task conv2d:h=4096,w=4096,ci=65536,co=16,k=1,stride=4096",  // little work
       "its tensors take 1.1e+12 bytes, more than the simulator's 2 GiB"},
      {"tasks --hw " + file("wrap.json"), "hardware key LOG_BLOCK = 4294967300 is out of range"},
      {"tasks --hw " + file("clock.json"), "CLOCK_MHZ must be in 0.001..1e6"},
  };
  for (const auto& [args, expect] : cases) {
    Result r = cli(args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(expect), std::string::npos) << args << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << " -> " << r.err;
  }
}

}  // namespace
}  // namespace ml2
