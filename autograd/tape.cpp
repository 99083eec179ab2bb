#include <tapegrad/autograd/tape.hpp>

#include <algorithm>
#include <atomic>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <tapegrad/core/error.hpp>

namespace tapegrad {

namespace {
// False once this thread's tape is destroyed (at thread exit), so records that die later
// (held by static tensors) do not report to it. A trivially destructible flag stays readable.
thread_local bool tape_alive = false;

std::uint64_t new_tape_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Tape::Tape() : id_(new_tape_id()) {
  tape_alive = true;
}
Tape::~Tape() {
  tape_alive = false;
}

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

Tape& Tape::owning(const Record& rec, const char* what) {
  Tape& tape = current();
  if (rec.tape_id() != tape.id()) {
    throw_error<AutogradError>(
        "{}: the graph of {} (#{}) was recorded on another thread; a graph belongs to the "
        "thread that records it. Run {} on that thread, or detach() the tensor to use its "
        "values here",
        what, rec.op(), rec.seq(), what);
  }
  return tape;
}

void Tape::record_died(std::uint64_t tape_id) {
  if (!tape_alive) return;
  Tape& tape = current();
  if (tape.id() == tape_id) ++tape.dead_;
}

void Tape::append(const std::shared_ptr<Record>& rec) {
  const bool mostly_dead = dead_ >= kMinCompaction && 2 * dead_ >= entries_.size();
  if (entries_.size() >= compact_at_ || mostly_dead) compact();
  entries_.push_back(rec);
  ++next_seq_;
}

// Drops dead entries; the next compaction waits until the tape has doubled, so the work is
// amortized O(1) per record and the tape is at most twice its live size.
void Tape::compact() {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].expired()) continue;
    if (kept != i) entries_[kept] = std::move(entries_[i]);  // a self-move would empty it
    ++kept;
  }
  entries_.resize(kept);
  dead_ = 0;
  compact_at_ = std::max<std::size_t>(kMinCompaction, 2 * kept);
}

std::vector<std::shared_ptr<Record>> Tape::live_records() const {
  std::vector<std::shared_ptr<Record>> out;
  for (const auto& e : entries_) {
    if (auto rec = e.lock()) out.push_back(std::move(rec));
  }
  return out;
}

std::size_t Tape::size() const {
  return static_cast<std::size_t>(
      std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return !e.expired(); }));
}

std::size_t Tape::bytes_kept() const {
  std::size_t bytes = 0;
  for (const auto& rec : live_records()) bytes += rec->saved_bytes();
  return bytes;
}

namespace {

std::string describe_input(const Edge& e) {
  if (e.producer) return fmt::format("#{}", e.producer->seq());
  return fmt::format("{}{}", e.leaf ? "leaf" : "const", e.shape);
}

}  // namespace

void Tape::print(std::ostream& out) const {
  for (const auto& rec : live_records()) {
    std::vector<std::string> inputs;
    for (const Edge& e : rec->inputs()) inputs.push_back(describe_input(e));
    const std::string where = rec->where();
    fmt::print(out, "#{:<5} {:<12} {:<16} ({}) -> {}{}\n", rec->seq(), rec->op(),
               where.empty() ? "-" : where, fmt::join(inputs, ", "), rec->output_shape(),
               rec->released() ? " [freed]" : "");
  }
}

}  // namespace tapegrad
