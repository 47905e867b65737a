// The VTA target's subcommands:
//   tasks     the named workloads with their stock and extended space sizes
//   compile   one configuration: the program's statistics and hidden features, or the compile
//             error; --dump DIR writes what VTA's own simulator needs to run it
//   sweep     every configuration of a space (parallel, resumable with --db): the ground truth,
//             written as a Kernel Tuner cache (--out) with a --summary JSON
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/common.h"
#include "ml2tuner/kernel_tuner_cache.h"
#include "ml2tuner/record_store.h"
#include "vta/compiler.h"
#include "vta/data.h"

namespace ml2::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

int run_tasks(const std::string& hw_name) {
  const vta::HwConfig hw = vta::HwConfig::load(hw_name);
  std::printf("VTA %s; templates: stock (AutoTVM's knobs), extended\n", hw.name().c_str());
  std::printf("%-14s %-62s %8s %9s\n", "task", "shape", "stock", "extended");
  for (const vta::Workload& w : vta::named_workloads()) {
    std::printf(
        "%-14s %-62s %8llu %9llu\n", w.name.c_str(), w.describe().c_str(),
        static_cast<unsigned long long>(make_space(w, hw, vta::Template::kStock).size()),
        static_cast<unsigned long long>(make_space(w, hw, vta::Template::kExtended).size()));
  }
  std::printf(
      "any shape: --task conv2d:h=..,w=..,ci=..,co=..,k=..[,n=..,pad=..,stride=..] or "
      "dense:ci=..,co=..[,n=..]\n");
  return 0;
}

json parse_config_arg(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  std::error_code ec;
  // An object written inline is never a file name, however long it is.
  if (first != std::string::npos && text[first] != '{' && fs::exists(text, ec)) {
    if (fs::is_directory(text, ec)) {
      throw UsageError("--config " + text +
                       " is a folder; give a JSON object or a file holding one");
    }
    std::ifstream in(text);
    try {
      return json::parse(in);
    } catch (const json::exception& e) {
      throw UsageError(text + ": malformed JSON: " + e.what());
    }
  }
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    throw UsageError("--config must be a JSON object or a file holding one, got '" + text + "'");
  }
}

void write_binary(const fs::path& path, const void* data, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!out) throw std::runtime_error("failed writing " + path.string());
}

constexpr const char* kDumpNote = R"(# A VTA program dumped by `ml2tuner compile --dump`

All files are little-endian.

- `insns.bin`: the instruction stream, 16 bytes per instruction, laid out exactly as VTA's
  `VTAInsn` union (include/vta/hw_spec.h) on a little-endian host: the low 64-bit word first. The
  field layout for this hardware is in `program.json` (`layout`), bit offsets from bit 0 of the
  first word.
- `uops.bin`: the micro-op DRAM image, 4 bytes per `VTAUop`. LOAD instructions of memory type 0
  (uop) copy kernels from it into the uop buffer.
- `inp.bin`, `wgt.bin`: the DRAM images of the input and weight tensors in VTA's packed layouts,
  input [N/B][CI/BLOCK][H][W][B][BLOCK] and weight [CO/BLOCK][CI/BLOCK][K][K][BLOCK][BLOCK]
  (output-channel major within a block), int8.
- `expected_out.bin`: the output the program must produce, [N/B][CO/BLOCK][OH][OW][B][BLOCK], int8:
  conv2d with int32 accumulation, then clip(acc >> shift, -128, 127).
- `program.json`: the workload, the hardware configuration (VTA's keys), and the byte address of
  each region in the DRAM image (`inp_addr`, `wgt_addr`, `out_addr`, `uop_addr`, `dram_bytes`).
  An instruction's `dram_base` counts elements of its memory type from address 0 (inp: BATCH*BLOCK
  bytes, wgt: BLOCK*BLOCK bytes, out: BATCH*BLOCK bytes, uop: 4 bytes).

To run it on VTA's simulator, allocate `dram_bytes`, copy each file to its address, run the
`insn_count` instructions of insns.bin, and compare the bytes at `out_addr` with expected_out.bin.
)";

json layout_json(const vta::Isa& isa) {
  json j;
  const std::pair<const char*, vta::Opcode> formats[] = {{"load_store", vta::Opcode::kLoad},
                                                         {"gemm", vta::Opcode::kGemm},
                                                         {"alu", vta::Opcode::kAlu},
                                                         {"finish", vta::Opcode::kFinish}};
  for (const auto& [name, op] : formats) {
    for (const vta::Field& f : isa.layout(op)) {
      j[name].push_back({{"field", f.name}, {"offset", f.offset}, {"width", f.width}});
    }
  }
  for (const vta::Field& f : isa.uop_layout()) {
    j["uop"].push_back({{"field", f.name}, {"offset", f.offset}, {"width", f.width}});
  }
  return j;
}

void dump_program(const fs::path& dir, const vta::HwConfig& hw, const vta::CompileResult& r) {
  fs::create_directories(dir);
  const vta::Program& p = r.program;
  write_binary(dir / "insns.bin", p.insns.data(), p.insns.size() * 16);
  write_binary(dir / "uops.bin", p.uops.data(), p.uops.size() * 4);
  const vta::PreparedData& data = vta::prepared(hw, p.workload, p.data_seed);
  write_binary(dir / "inp.bin", data.inp_packed.data(), data.inp_packed.size());
  write_binary(dir / "wgt.bin", data.wgt_packed.data(), data.wgt_packed.size());
  write_binary(dir / "expected_out.bin", data.out_packed.data(), data.out_packed.size());
  const vta::Workload& w = p.workload;
  json j;
  j["workload"] = {{"name", w.name}, {"dense", w.dense},   {"n", w.n},        {"h", w.h},
                   {"w", w.w},       {"ci", w.ci},         {"co", w.co},      {"k", w.k},
                   {"pad", w.pad},   {"stride", w.stride}, {"shift", w.shift}};
  j["hardware"] = hw.to_json();
  j["inp_addr"] = p.inp_addr;
  j["wgt_addr"] = p.wgt_addr;
  j["out_addr"] = p.out_addr;
  j["uop_addr"] = p.uop_addr;
  j["dram_bytes"] = p.dram_bytes;
  j["insn_count"] = p.insns.size();
  j["uop_count"] = p.uops.size();
  j["data_seed"] = p.data_seed;
  j["layout"] = layout_json(vta::Isa(hw));
  std::ofstream(dir / "program.json") << j.dump(2) << "\n";
  std::ofstream(dir / "README.md") << kDumpNote;
}

struct CompileArgs {
  TargetArgs target;
  std::string config;
  std::string dump;
  bool as_json = false;
};

int run_compile(const CompileArgs& a) {
  const TargetOptions& o = a.target.options;
  const vta::HwConfig hw = vta::HwConfig::load(o.hw);
  vta::Workload w = vta::Workload::parse(o.task);
  w.validate(hw);
  const vta::Template t = vta::template_from_string(o.tmpl);
  const Space space = make_space(w, hw, t);
  Config c;
  try {
    c = space.from_json(parse_config_arg(a.config));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const vta::CompileResult r = vta::compile(hw, w, schedule_of(space, c, t), 1);
  if (a.as_json) {
    json j{{"task", w.name}, {"config", space.to_json(c)}, {"ok", r.ok}};
    if (!r.ok) j["error"] = r.error;
    j["hidden"] = r.hidden;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << w.name << " (" << w.describe() << ") on VTA " << hw.name() << ", template "
              << o.tmpl << "\nconfig " << space.to_json(c).dump() << "\n";
    if (!r.ok) {
      std::cout << "compile error: " << r.error << "\n";
    } else {
      std::cout << "program: " << r.insns.size() << " instructions, " << r.uops.size()
                << " micro-ops, DRAM image " << r.program.dram_bytes << " bytes\n";
      std::cout << "hidden features (" << r.hidden.size() << "):\n";
      for (const auto& [name, value] : r.hidden) std::cout << "  " << name << " " << value << "\n";
    }
  }
  if (r.ok && !a.dump.empty()) {
    dump_program(a.dump, hw, r);
    std::cerr << "wrote the program to " << a.dump << " (see README.md there)\n";
  }
  return r.ok ? 0 : 1;
}

struct SweepArgs {
  TargetArgs target;
  std::string out, db, summary;
  int jobs = 2;
  bool quiet = false;
};

// The kind of a failure: its message up to the first detail (a colon, a parenthesis or a
// number), e.g. "Allocation exceed bound of memory tag local.inp_buffer" or "output differs from
// the reference in".
std::string kind_of(std::string message) {
  if (message.rfind("Scope[", 0) == 0 && message.find(": ") != std::string::npos) {
    message = message.substr(message.find(": ") + 2);  // TVM's "Scope[...]: what went wrong"
  }
  size_t end = message.find_first_of(":(0123456789");
  // Keep digits that are part of a name ("2d pattern", "local.inp_buffer").
  while (end != std::string::npos && std::isdigit(static_cast<unsigned char>(message[end])) &&
         end > 0 && message[end - 1] != ' ') {
    end = message.find_first_of(":(0123456789", end + 1);
  }
  std::string kind = message.substr(0, end);
  while (!kind.empty() && kind.back() == ' ') kind.pop_back();
  return kind;
}

int run_sweep(const SweepArgs& a) {
  std::unique_ptr<Target> target = make_target(a.target.target, a.target.options);
  TuneOptions o;
  o.tuner = "grid";
  o.trials = static_cast<int64_t>(target->space().size());
  o.jobs = a.jobs;
  validate(o);
  std::optional<TempStorePath> temp;
  if (a.db.empty()) temp.emplace();
  RecordStore store(a.db.empty() ? temp->path() : a.db);
  store.bind(session_of(*target, o));
  std::cerr << "ml2tuner: sweeping " << target->task() << " (" << target->space().size()
            << " configurations)\n";
  Tuner tuner(*target, store, o);
  ProgressPrinter printer(a.quiet);
  const std::optional<TuneSummary> swept = run_stoppable(tuner, printer, o.trials, a.db);
  if (!swept) return stop_exit_code();
  const TuneSummary& s = *swept;
  const std::vector<Record> records = store.records();

  std::ostringstream cache;
  write_kernel_tuner_cache(cache, target->space(), records, a.target.options.task, target->task());
  write_text(a.out, cache.str());

  json counts = json::object(), kinds = json::object();
  for (const Record& r : records) {
    if (!r.trial) continue;
    const std::string status(to_string(r.status));
    counts[status] = counts.value(status, 0) + 1;
    if (r.status != Status::kOk) {
      json& k = kinds[status];
      if (k.is_null()) k = json::object();
      const std::string kind = kind_of(r.message);
      k[kind] = k.value(kind, 0) + 1;
    }
  }
  json j{
      {"task", s.task},
      {"target", s.target},
      {"space_size", s.space_size},
      {"configurations", s.trials},
      {"counts", counts},
      {"failure_kinds", kinds},
      {"valid_share",
       s.trials ? static_cast<double>(counts.value("ok", 0)) / static_cast<double>(s.trials) : 0.0},
      {"best_latency_ms", s.best_latency_ms ? json(*s.best_latency_ms) : json(nullptr)},
      {"best_config", s.best_config},
      {"elapsed_s", s.elapsed_s},
      {"virtual_time_s", s.virtual_time_s}};
  if (!a.summary.empty()) write_json_file(a.summary, j);
  std::cout << s.task << ": " << s.trials << " of " << s.space_size << " configurations, "
            << counts.dump() << ", best " << format_ms(s.best_latency_ms) << ", " << s.elapsed_s
            << " s\n";
  return 0;
}

}  // namespace

void add_vta_commands(CLI::App& app, std::vector<std::function<int()>>& runners) {
  auto hw = std::make_shared<std::string>("default");
  CLI::App* tasks = app.add_subcommand("tasks", "list the VTA target's workloads and templates");
  tasks->add_option("--hw", *hw, "hardware preset (default, extended) or JSON file")
      ->capture_default_str();
  runners.push_back([tasks, hw] { return tasks->parsed() ? run_tasks(*hw) : -1; });

  auto compile_args = std::make_shared<CompileArgs>();
  CLI::App* c = app.add_subcommand(
      "compile", "compile one configuration for VTA: statistics and hidden features");
  compile_args->target.add_to(c, /*with_target=*/false, /*with_space=*/false);
  c->add_option("--config", compile_args->config, "the configuration: JSON object or file")
      ->required();
  c->add_option("--dump", compile_args->dump,
                "write the instruction stream, uops, DRAM images and expected output here");
  c->add_flag("--json", compile_args->as_json, "print JSON");
  runners.push_back([c, compile_args] { return c->parsed() ? run_compile(*compile_args) : -1; });

  auto sweep_args = std::make_shared<SweepArgs>();
  CLI::App* s = app.add_subcommand("sweep", "measure every configuration of a space");
  sweep_args->target.add_to(s);
  s->add_option("--out", sweep_args->out,
                "ground truth as a Kernel Tuner cache (.json or .json.gz)")
      ->required();
  s->add_option("--db", sweep_args->db, "record store; an existing one is resumed");
  s->add_option("--summary", sweep_args->summary, "summary JSON");
  s->add_option("--jobs", sweep_args->jobs, "worker processes (1..256)")->capture_default_str();
  s->add_flag("--quiet", sweep_args->quiet, "no progress line");
  runners.push_back([s, sweep_args] { return s->parsed() ? run_sweep(*sweep_args) : -1; });
}

}  // namespace ml2::cli
