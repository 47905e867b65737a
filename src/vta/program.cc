#include "vta/program.h"

#include <cstring>
#include <stdexcept>

namespace ml2::vta {
namespace {

constexpr char kMagic[8] = {'M', 'L', '2', 'V', 'T', 'A', '0', '1'};

class Out {
 public:
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes.append(p, sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes += s;
  }
  std::string bytes;
};

class In {
 public:
  explicit In(const std::string& b) : bytes_(b) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string str() {
    const auto n = get<uint64_t>();
    need(n);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n) const {
    if (n > bytes_.size() - pos_) throw std::runtime_error("truncated VTA program");
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  const std::string& bytes_;
  size_t pos_ = 0;
};

}  // namespace

std::string Program::serialize() const {
  Out o;
  o.bytes.append(kMagic, sizeof kMagic);
  const Workload& w = workload;
  o.str(w.name);
  o.put<uint8_t>(w.dense ? 1 : 0);
  for (int64_t v : {w.n, w.h, w.w, w.ci, w.co, w.k, w.pad, w.stride}) o.put(v);
  o.put<int32_t>(w.shift);
  for (uint64_t v : {data_seed, inp_addr, wgt_addr, out_addr, uop_addr, dram_bytes}) o.put(v);
  o.put<uint64_t>(insns.size());
  for (const Word128& i : insns) {
    o.put(i.lo);
    o.put(i.hi);
  }
  o.put<uint64_t>(uops.size());
  o.bytes.append(reinterpret_cast<const char*>(uops.data()), uops.size() * sizeof(uint32_t));
  return std::move(o.bytes);
}

Program Program::deserialize(const std::string& bytes) {
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw std::runtime_error("not a serialized VTA program");
  }
  std::string rest = bytes.substr(sizeof kMagic);
  In in(rest);
  Program p;
  Workload& w = p.workload;
  w.name = in.str();
  w.dense = in.get<uint8_t>() != 0;
  for (int64_t* v : {&w.n, &w.h, &w.w, &w.ci, &w.co, &w.k, &w.pad, &w.stride})
    *v = in.get<int64_t>();
  w.shift = in.get<int32_t>();
  for (uint64_t* v :
       {&p.data_seed, &p.inp_addr, &p.wgt_addr, &p.out_addr, &p.uop_addr, &p.dram_bytes}) {
    *v = in.get<uint64_t>();
  }
  const auto n_insns = in.get<uint64_t>();
  in.need(n_insns * 16);
  p.insns.resize(n_insns);
  for (Word128& i : p.insns) {
    i.lo = in.get<uint64_t>();
    i.hi = in.get<uint64_t>();
  }
  const auto n_uops = in.get<uint64_t>();
  in.need(n_uops * 4);
  p.uops.resize(n_uops);
  for (uint32_t& u : p.uops) u = in.get<uint32_t>();
  if (!in.done()) throw std::runtime_error("trailing bytes after a VTA program");
  return p;
}

}  // namespace ml2::vta
