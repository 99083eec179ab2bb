// The tape: every record of this thread, in creation order.
//
// The tape holds records weakly: a record lives as long as some tensor can still reach it
// (through the output it produced, or through a later record), so forward passes whose
// results are dropped free their records, and the tape forgets dead entries as it grows.
// Backward does not read the tape: it follows the records' edges from the roots
// (engine.hpp). The tape is what prints the records of a thread, counts them and the bytes
// they keep, and numbers them: each record's sequence number is its place in creation
// order, which the engine visits them by.
//
// Dead entries are dropped when they make up half of the tape (so a loop of forward passes
// without backward holds at most ~1024 dead entries) or when the tape doubles, which keeps
// the cost amortized O(1) per record.
//
// A graph belongs to the thread that records it. The tape is thread-local and unlocked (one
// record per op must stay cheap), so another thread may neither extend a graph (recording an
// op on a tensor another thread produced) nor walk it (backward, grad, graph dumps): both
// throw AutogradError, and detach() hands a tensor's values to another thread. Records name
// their tape by an id that is never reused, not by address, so a record that outlives its
// thread is recognised as foreign rather than read through a dangling pointer.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <vector>

#include <tapegrad/autograd/record.hpp>

namespace tapegrad {

class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // The tape of the calling thread.
  static Tape& current();
  // The calling thread's tape, which must be the one that recorded `rec`; else throws
  // AutogradError naming `what` (the operation that wanted to walk the graph).
  static Tape& owning(const Record& rec, const char* what);
  // Called by a dying record, so its tape knows when most of its entries are dead.
  static void record_died(std::uint64_t tape_id);

  // Unique for the life of the process: no two tapes, even of threads that have ended,
  // share an id.
  std::uint64_t id() const { return id_; }

  // Records still alive, oldest first.
  std::vector<std::shared_ptr<Record>> live_records() const;
  // Number of live records.
  std::size_t size() const;
  // Bytes of tensor data the live records keep alive for backward.
  std::size_t bytes_kept() const;
  // One line per live record: index, op, scope, inputs, output shape.
  void print(std::ostream& out) const;

  // Used by record(): appends a new record, which link_output numbered next_seq().
  void append(const std::shared_ptr<Record>& rec);
  // The sequence number the next record gets (a nested pass tells the records it made by it).
  std::uint64_t next_seq() const { return next_seq_; }

 private:
  void compact();
  static constexpr std::size_t kMinCompaction = 1024;

  const std::uint64_t id_;
  std::vector<std::weak_ptr<Record>> entries_;
  std::uint64_t next_seq_ = 0;
  std::size_t compact_at_ = kMinCompaction;
  std::size_t dead_ = 0;  // entries whose record died since the last compaction
};

}  // namespace tapegrad
