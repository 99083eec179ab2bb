#include <tapegrad/autograd/tape.hpp>

#include <algorithm>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ostream.h>

namespace tapegrad {

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

void Tape::append(const std::shared_ptr<Record>& rec) {
  if (entries_.size() >= compact_at_ && walkers_ == 0) compact();
  entries_.push_back(rec);
  seqs_.push_back(rec->seq());
  ++next_seq_;
}

// Drops dead entries; the next compaction waits until the tape has doubled, so the work is
// amortized O(1) per record and the tape is at most twice its live size.
void Tape::compact() {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].expired()) continue;
    entries_[kept] = std::move(entries_[i]);
    seqs_[kept] = seqs_[i];
    ++kept;
  }
  entries_.resize(kept);
  seqs_.resize(kept);
  compact_at_ = std::max<std::size_t>(1024, 2 * kept);
}

std::size_t Tape::position_of(std::uint64_t seq) const {
  return static_cast<std::size_t>(std::lower_bound(seqs_.begin(), seqs_.end(), seq) -
                                  seqs_.begin());
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
    fmt::print(out, "#{:<5} {:<12} {:<16} ({}) -> {}{}\n", rec->seq(), rec->op(),
               rec->scope().empty() ? "-" : rec->scope(), fmt::join(inputs, ", "),
               rec->output_shape(), rec->released() ? " [freed]" : "");
  }
}

}  // namespace tapegrad
