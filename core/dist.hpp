// Distributed training over MPI: the process group and the collectives on tensors.
//
// A program opens one tg::dist::Session in main. Started by a launcher (mpirun, srun: it
// leaves OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE in the environment) the session starts
// MPI and every rank of the job takes part; started alone, or built without MPI
// (-DTAPEGRAD_MPI=OFF), it is a world of one, where every collective leaves its tensor as
// it is. So the same program runs alone or on N ranks unchanged.
//
// The collectives live in core/ because they need nothing but tensors; what moves a whole
// model (broadcast_parameters) needs nn::Module and lives in nn/dist.hpp. MPI itself stays
// out of every header: <mpi.h> is included by core/dist_mpi.cpp alone.
//
// Every collective is called by every rank, in the same order, with tensors of the same
// shape and dtype, as MPI requires. Tensors must be contiguous, f32 or f64; results are
// written in place. A failed MPI call throws CommunicationError naming the call.
//
// No wait is unbounded: a collective that the other ranks do not complete within timeout()
// throws CommunicationError, so a rank that stopped answering (stopped, hung, its machine
// gone) ends the job instead of holding every other rank forever. A rank that cannot go on
// ends the job on every rank with abort(); a Session left by an exception does so itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/core/error.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad::dist {

// An MPI call failed (a rank died, a network error): the message names the tapegrad
// collective, the MPI call and MPI's own description.
class CommunicationError : public Error {
 public:
  using Error::Error;
};

using Seconds = std::chrono::duration<double>;

// MPI for the lifetime of this object: MPI_Init_thread (asking for MPI_THREAD_MULTIPLE,
// taking the best level MPI gives) .. MPI_Finalize, with errors returned as exceptions
// rather than aborting the job. One per program, in main: MPI cannot start again in a
// process once it finalized. If something else started MPI already, the session uses it
// and leaves finalizing to its owner. A session destroyed while an exception leaves main's
// scope, or after a collective failed or timed out, ends the job with abort(1) instead of
// MPI_Finalize: the other ranks would otherwise wait for this one until their timeout.
class Session {
 public:
  Session();  // MPI sees no command line
  Session(int& argc, char**& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  void start(int* argc, char*** argv);
  bool finalizes_mpi_ = false;   // this session started MPI, so it ends it
  int exceptions_at_start_ = 0;  // std::uncaught_exceptions() when the session opened
};

// This process's rank in 0..world_size()-1; 0 and 1 in a world of one.
int rank();
int world_size();
bool is_root();  // rank() == 0: the rank that prints and writes files
// The cores this rank may use: those it may run on, shared with the other ranks of its
// machine, at least 1; alone, the machine's hardware threads. Each rank's BLAS threads start
// at this many (unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS says otherwise), and jobs = 0
// of cross-validation means this many threads, so that ranks never oversubscribe a machine.
int cores_per_rank();

// The part of `count` items (the rows of a batch) that rank r of `ranks` takes when they are
// split as evenly as possible: [begin, end), sizes differing by one at most, the larger ones
// on the later ranks. fit's distributed mode gives each rank this share of every batch.
struct Share {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};
Share share_of(std::int64_t count, int r, int ranks);
Share share_of(std::int64_t count);  // this rank's

enum class Op { sum, max, min, mean };

// How a sum (and so a mean) is added up.
//   rank_order (the default): every element is added in rank order 0, 1, ..., n-1, so the
//     result is bitwise the same on every rank and from run to run with the same number of
//     ranks. Each rank sums one 1/n slice of the tensor (MPI_Alltoallv of the slices, then
//     a local sum) and the slices are gathered back (MPI_Allgatherv): the same bytes on
//     the wire as a ring all-reduce, and no more memory than one copy of the tensor.
//   any_order: MPI_Allreduce, which may add in any order (it depends on the algorithm MPI
//     picks for the message size and the transport), so the last bits may differ between
//     runs and, in principle, between ranks.
// max and min are exact in any order.
enum class Order { rank_order, any_order };

// In place: t becomes the elementwise sum (max, min, mean) of t over all ranks.
void all_reduce(const Tensor& t, Op op = Op::sum, Order order = Order::rank_order);
// In place: t becomes root's t on every rank.
void broadcast(const Tensor& t, int root = 0);
// In place: `bytes` becomes root's on every rank (a generator's state, a file's contents).
void broadcast(std::string& bytes, int root = 0);
// Returns when every rank has called it.
void barrier();
// Every rank's `value`, indexed by rank (e.g. to compare a hash of what each rank built).
std::vector<std::uint64_t> all_gather(std::uint64_t value);

// How long a collective waits for the other ranks: 300 s by default, or the environment's
// TAPEGRAD_DIST_TIMEOUT (seconds) when set. A limit must leave room for the longest work a
// rank does alone between two collectives (rank 0 writing a checkpoint, an evaluation).
void set_timeout(Seconds limit);
Seconds timeout();

// Ends the job on every rank now, with this exit status (MPI_Abort; mpirun reports the
// rank). For a rank that cannot go on, after it has said why: the others may be waiting in
// a collective it will never join. In a world of one, std::exit(exit_code).
[[noreturn]] void abort(int exit_code);

// Work handed out as ranks become free: a counter that every thread of every rank draws task
// indices from, each index going to exactly one caller, and at the end every rank's results
// gathered to all. For tasks of uneven length (cross-validation folds that grow), which a
// fixed split would leave some ranks idle on. Alone (a world of one, or built without MPI) it
// is an atomic counter and finish() returns {result}.
//
//   TaskCounter counter;                            // collective: every rank, same order
//   for (auto i = counter.next(); i < tasks; i = counter.next()) results += run(i);
//   std::vector<std::string> all = counter.finish(results);   // collective
//
// Rank 0 keeps the count; a thread of rank 0 answers the other ranks' requests for it (why
// not MPI's one-sided operations: core/dist_mpi.cpp), so MPI must give MPI_THREAD_MULTIPLE,
// as Open MPI does. No wait is unbounded: an answer from rank 0 overdue by timeout() (taken
// when the counter is made) throws CommunicationError, and so does, in finish(), a rank not
// heard from for that long. Unlike a collective's, finish()'s wait has no limit of its own,
// as the other ranks may still compute long tasks: a thread of each rank reports it alive to
// rank 0 several times per timeout() (at least once a second) while the counter lives, also
// while the rank computes, so a rank that is merely slow is waited for.
class TaskCounter {
 public:
  // next() returns this or more once close() was called by any rank.
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 62;

  struct Options {
    bool across_ranks = true;  // false: this process's threads alone (each rank counts apart)
    // Rank 0: called with the bytes each other rank report()s, as they arrive, on the thread
    // that answers the ranks: one call at a time, while rank 0's own threads run on. It must
    // not throw (keep the error, close() the counter and throw it after finish()).
    std::function<void(std::string_view)> on_report = {};
  };
  // Collective when across_ranks (and the world has more than one rank).
  explicit TaskCounter(const Options& opts);
  TaskCounter() : TaskCounter(Options{}) {}
  ~TaskCounter();
  TaskCounter(const TaskCounter&) = delete;
  TaskCounter& operator=(const TaskCounter&) = delete;

  // 0, 1, 2, ... across all threads of all ranks; thread-safe.
  std::uint64_t next();
  // Every later next(), on every rank, returns kClosed or more: stops the handing out (after
  // a failure) while tasks already handed out run on.
  void close();
  // Hands `bytes` (a finished task's result) to rank 0's Options::on_report at once, so that
  // rank 0 learns of every task as it finishes, not at finish(); returns once rank 0 has
  // them. Nothing on rank 0, alone, or without across_ranks (the caller holds the bytes).
  void report(std::string_view bytes);
  // Throws CommunicationError if a rank has not been heard from for timeout() or a thread of
  // the counter failed: for long tasks to call now and then, so that a rank that stopped ends
  // the job within the timeout rather than once the tasks left are done. No communication;
  // thread-safe. Nothing alone or without across_ranks.
  void check() const;
  // Collective, once, after this rank's last next(): every rank's `result`, indexed by rank.
  std::vector<std::string> finish(std::string_view result);

  // What a counter is on one rank alone or on several (core/dist_detail.hpp).
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapegrad::dist
