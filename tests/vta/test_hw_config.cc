#include "vta/hw_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ml2::vta {
namespace {

namespace fs = std::filesystem;

std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path p =
      fs::temp_directory_path() / ("ml2-hw-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(p) << text;
  return p.string();
}

TEST(VtaHwConfig, DefaultIsVtasStandardBuild) {
  HwConfig hw = HwConfig::preset("default");
  EXPECT_EQ(hw.name(), "1x16_i8w8a32_15_15_18_17");
  EXPECT_EQ(hw.uop_depth(), 8192);
  EXPECT_EQ(hw.inp_depth(), 2048);
  EXPECT_EQ(hw.wgt_depth(), 1024);
  EXPECT_EQ(hw.acc_depth(), 2048);
  EXPECT_EQ(hw.inp_elem_bytes(), 16);
  EXPECT_EQ(hw.wgt_elem_bytes(), 256);
  EXPECT_EQ(hw.acc_elem_bytes(), 64);
  EXPECT_EQ(hw.out_elem_bytes(), 16);
  EXPECT_NO_THROW(hw.validate());
}

TEST(VtaHwConfig, ExtendedPresetIsConsistent) {
  HwConfig hw = HwConfig::preset("extended");
  EXPECT_EQ(hw.block(), 32);
  EXPECT_EQ(hw.inp_depth(), 4096);
  EXPECT_EQ(hw.wgt_depth(), 512);
  EXPECT_EQ(hw.acc_depth(), 2048);
  EXPECT_NO_THROW(hw.validate());
}

TEST(VtaHwConfig, JsonFileWithVtasKeys) {
  // The shape of apache/tvm-vta's config/vta_config.json, plus one timing key.
  const std::string path = write_temp("ok.json", R"({"TARGET": "sim", "HW_VER": "0.0.2",
      "LOG_INP_WIDTH": 3, "LOG_WGT_WIDTH": 3, "LOG_ACC_WIDTH": 5, "LOG_BATCH": 0, "LOG_BLOCK": 4,
      "LOG_UOP_BUFF_SIZE": 14, "LOG_INP_BUFF_SIZE": 15, "LOG_WGT_BUFF_SIZE": 18,
      "LOG_ACC_BUFF_SIZE": 17, "CLOCK_MHZ": 200})");
  HwConfig hw = HwConfig::load(path);
  EXPECT_EQ(hw.uop_depth(), 4096);
  EXPECT_EQ(hw.clock_mhz, 200);
  EXPECT_EQ(HwConfig::from_json(hw.to_json()).to_json(), hw.to_json());
  fs::remove(path);
}

TEST(VtaHwConfig, BadInputIsOneLineErrors) {
  const std::string unknown = write_temp("unknown.json", R"({"LOG_BLOK": 4})");
  const std::string wide = write_temp("wide.json", R"({"LOG_INP_WIDTH": 4})");
  const std::string huge = write_temp("huge.json", R"({"LOG_WGT_BUFF_SIZE": 23})");
  const std::string broken = write_temp("broken.json", R"({"LOG_BLOCK": )");
  const std::pair<std::string, std::string> cases[] = {
      {"nosuchpreset", "presets: default, extended"},
      {unknown, "unknown hardware key 'LOG_BLOK'"},
      {wide, "LOG_INP_WIDTH and LOG_WGT_WIDTH must be 3"},
      {huge, "inconsistent hardware configuration"},
      {broken, "malformed JSON"},
  };
  for (const auto& [arg, expect] : cases) {
    try {
      HwConfig::load(arg);
      FAIL() << arg;
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(expect), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  for (const auto& p : {unknown, wide, huge, broken}) fs::remove(p);
}

}  // namespace
}  // namespace ml2::vta
