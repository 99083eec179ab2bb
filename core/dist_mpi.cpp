// tg::dist over MPI's C API (TAPEGRAD_MPI=ON). MPI_COMM_WORLD is the process group;
// MPI_ERRORS_RETURN on it turns every failed call into a CommunicationError instead of
// MPI's default, which aborts the whole job from inside the library.
#if TAPEGRAD_MPI

#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/dist_detail.hpp>
#include <tapegrad/core/kernels.hpp>

namespace tapegrad::dist {
namespace {

bool session_open = false;
int thread_level = MPI_THREAD_SINGLE;  // what MPI_Init_thread provided
// A collective failed or timed out: its request may still be pending, and MPI_Finalize
// would wait for ranks that will never answer.
std::atomic<bool> communication_broken{false};

// mpirun and srun leave these in each rank's environment (Open MPI, PMIx, PMI-1/2). Without
// them MPI would start as a "singleton", which spawns a helper daemon and can fail in a
// container; a world of one needs none of that.
bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

bool mpi_initialized() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  return initialized != 0;
}

bool mpi_finalized() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  return finalized != 0;
}

bool mpi_running() {
  return mpi_initialized() && !mpi_finalized();
}

struct World {
  int rank = 0;
  int size = 1;
};

// Asked of MPI once: rank() and world_size() are then safe from any thread while the
// communication thread of a DataParallel is inside MPI (MPI_THREAD_SERIALIZED allows one
// thread in MPI at a time).
World world_now() {
  if (!mpi_running()) return {};
  static const World world = [] {
    World w;
    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w.size);
    return w;
  }();
  return world;
}

std::string this_rank() {
  const World w = world_now();
  return fmt::format("rank {} of {}", w.rank, w.size);
}

void check(int code, std::string_view op, std::string_view call) {
  if (code == MPI_SUCCESS) return;
  communication_broken = true;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw_error<CommunicationError>("dist::{}: {} failed on {}: {}", op, call, this_rank(),
                                  std::string_view(text, length));
}

// How a rank waits for the others: ranks that arrive together finish a collective within
// microseconds, so it polls at first; then it yields, and after a millisecond it sleeps in
// growing steps, so that a rank waiting for a slower one, or a communication thread waiting
// beside backward, leaves its core to the computation. The steps stay short (200 us): a
// collective is awaited twice per bucket, and a step of the reference model takes 250 us.
void pause_after(std::chrono::steady_clock::duration waited) {
  using namespace std::chrono_literals;
  if (waited < 50us) return;
  if (waited < 1ms) {
    std::this_thread::yield();
    return;
  }
  std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(waited / 8, 200us));
}

// Polls a non-blocking request until it completes: a blocking MPI call would wait forever for
// a rank that stopped answering. Between polls `give_up` (given the time waited so far) may
// throw to stop waiting; a CommunicationError marks the communication broken.
MPI_Status poll(MPI_Request& request, std::string_view op, std::string_view call,
                const std::function<void(std::chrono::steady_clock::duration)>& give_up) {
  const auto start = std::chrono::steady_clock::now();
  MPI_Status status;
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, &status), op, call);
    if (done != 0) return status;
    const auto waited = std::chrono::steady_clock::now() - start;
    try {
      give_up(waited);
    } catch (const CommunicationError&) {
      communication_broken = true;
      throw;
    }
    pause_after(waited);
  }
}

// Completes a non-blocking collective, or throws CommunicationError after timeout().
void wait(MPI_Request& request, std::string_view op, std::string_view call) {
  const auto limit = std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout());
  poll(request, op, call, [&](std::chrono::steady_clock::duration waited) {
    if (waited <= limit) return;
    throw_error<CommunicationError>(
        "dist::{}: {} waited {:.0f} s on {} and not every rank answered: a rank has stopped, "
        "hung or lost its connection (a longer limit: tg::dist::set_timeout, tapegrad "
        "--timeout, TAPEGRAD_DIST_TIMEOUT)",
        op, call, Seconds(waited).count(), this_rank());
  });
}

// Starts a non-blocking collective with `start` (which fills in the request) and waits for it.
template <class Start>
void collective(std::string_view op, std::string_view call, Start start) {
  MPI_Request request = MPI_REQUEST_NULL;
  check(start(&request), op, call);
  wait(request, op, call);
}

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

// The slices of a buffer of `count` elements that the ranks sum in rank order: rank j owns
// [offsets[j], offsets[j] + counts[j]), sizes differing by one at most.
struct Slices {
  std::vector<int> counts, offsets;
  Slices(int count, int ranks) : counts(ranks), offsets(ranks) {
    for (int j = 0; j < ranks; ++j) {
      const Share slice = share_of(count, j, ranks);
      offsets[j] = static_cast<int>(slice.begin);
      counts[j] = static_cast<int>(slice.size());
    }
  }
};

// Rank j receives slice j of every rank (MPI_Alltoallv), adds them in rank order 0..n-1
// and sends its sum to all (MPI_Allgatherv): one rank computes each element, every rank
// gets the same bytes, and the order of the additions never depends on MPI.
template <class T>
void sum_in_rank_order(T* data, int count) {
  const int ranks = world_size();
  const int me = rank();
  const Slices slices(count, ranks);
  const int mine = slices.counts[me];
  std::vector<T> parts(static_cast<std::size_t>(mine) * ranks);
  std::vector<int> part_counts(ranks, mine), part_offsets(ranks);
  for (int i = 0; i < ranks; ++i) part_offsets[i] = i * mine;
  collective("all_reduce", "MPI_Ialltoallv", [&](MPI_Request* request) {
    return MPI_Ialltoallv(data, slices.counts.data(), slices.offsets.data(), mpi_type<T>(),
                          parts.data(), part_counts.data(), part_offsets.data(), mpi_type<T>(),
                          MPI_COMM_WORLD, request);
  });
  T* sum = data + slices.offsets[me];
  std::copy_n(parts.data(), mine, sum);
  for (int i = 1; i < ranks; ++i) {
    const T* part = parts.data() + static_cast<std::size_t>(i) * mine;
    for (int k = 0; k < mine; ++k) sum[k] += part[k];
  }
  collective("all_reduce", "MPI_Iallgatherv", [&](MPI_Request* request) {
    return MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, slices.counts.data(),
                           slices.offsets.data(), mpi_type<T>(), MPI_COMM_WORLD, request);
  });
}

template <class T>
void allreduce_by_mpi(T* data, int count, MPI_Op op) {
  collective("all_reduce", "MPI_Iallreduce", [&](MPI_Request* request) {
    return MPI_Iallreduce(MPI_IN_PLACE, data, count, mpi_type<T>(), op, MPI_COMM_WORLD, request);
  });
}

template <class T>
void reduce(T* data, int count, Op op, Order order) {
  if (op == Op::max || op == Op::min) {
    allreduce_by_mpi(data, count, op == Op::max ? MPI_MAX : MPI_MIN);
    return;
  }
  if (order == Order::rank_order) {
    sum_in_rank_order(data, count);
  } else {
    allreduce_by_mpi(data, count, MPI_SUM);
  }
  if (op == Op::mean) {
    const T ranks = static_cast<T>(world_size());
    for (int k = 0; k < count; ++k) data[k] /= ranks;
  }
}

int hardware_threads() {
  return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
}

int rank_cores = hardware_threads();  // cores_per_rank(), set when the session starts

// The cores of each rank: those it may run on, shared with the other ranks of its machine,
// never more (two ranks of two threads on two cores would each run at a fraction of their
// speed). mpirun binds each rank to one core by default with 2 ranks or fewer, so a rank
// that should use several cores needs `mpirun --bind-to none` (README). Its BLAS threads
// start at that count, unless the user chose one (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, or
// set_num_threads later).
void share_cores_among_local_ranks() {
  MPI_Comm machine = MPI_COMM_NULL;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &machine),
        "Session", "MPI_Comm_split_type");
  int local_ranks = 1;
  MPI_Comm_size(machine, &local_ranks);
  MPI_Comm_free(&machine);
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const int mine = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
  rank_cores = std::max(1, std::min(mine, hardware_threads() / local_ranks));
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr && std::getenv("OMP_NUM_THREADS") == nullptr) {
    kernel::set_num_threads(rank_cores);
  }
}

// Starts MPI, or joins it when something else started it; true when this call started it
// (and so the session must finalize it).
bool start_mpi(int* argc, char*** argv) {
  if (mpi_finalized()) {
    throw_error<ValueError>(
        "dist::Session: MPI was finalized by an earlier session and cannot start again in "
        "this process; open one session in main, for the whole program");
  }
  const bool starts = !mpi_initialized();
  if (starts) {
    check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &thread_level), "Session",
          "MPI_Init_thread");
  } else {
    check(MPI_Query_thread(&thread_level), "Session", "MPI_Query_thread");
  }
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "Session",
        "MPI_Comm_set_errhandler");
  if (starts && world_size() > 1) share_cores_among_local_ranks();
  return starts;
}

}  // namespace

Session::Session() {
  start(nullptr, nullptr);
}

Session::Session(int& argc, char**& argv) {
  start(&argc, &argv);
}

void Session::start(int* argc, char*** argv) {
  if (session_open) {
    throw_error<ValueError>(
        "dist::Session: a session is already open; open one in main, for the whole program");
  }
  if (started_by_launcher()) finalizes_mpi_ = start_mpi(argc, argv);
  exceptions_at_start_ = std::uncaught_exceptions();
  session_open = true;
}

Session::~Session() {
  session_open = false;
  if (!finalizes_mpi_) return;
  if (std::uncaught_exceptions() > exceptions_at_start_ || communication_broken) dist::abort(1);
  MPI_Finalize();
}

int rank() {
  return world_now().rank;
}

int world_size() {
  return world_now().size;
}

int cores_per_rank() {
  return rank_cores;
}

void abort(int exit_code) {
  detail::flush_output();
  if (mpi_running() && world_size() > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

void all_reduce(const Tensor& t, Op op, Order order) {
  detail::check_tensor("all_reduce", t);
  if (world_size() == 1) return;
  dispatch(t.dtype(),
           [&]<class T>(T) { reduce(t.data<T>(), static_cast<int>(t.numel()), op, order); });
  t.bump_version();
}

void broadcast(const Tensor& t, int root) {
  detail::check_tensor("broadcast", t);
  detail::check_root("broadcast", root, world_size());
  if (world_size() == 1) return;
  dispatch(t.dtype(), [&]<class T>(T) {
    collective("broadcast", "MPI_Ibcast", [&](MPI_Request* request) {
      return MPI_Ibcast(t.data<T>(), static_cast<int>(t.numel()), mpi_type<T>(), root,
                        MPI_COMM_WORLD, request);
    });
  });
  t.bump_version();
}

void broadcast(std::string& bytes, int root) {
  detail::check_root("broadcast", root, world_size());
  if (world_size() == 1) return;
  std::uint64_t size = bytes.size();
  collective("broadcast", "MPI_Ibcast", [&](MPI_Request* request) {
    return MPI_Ibcast(&size, 1, MPI_UINT64_T, root, MPI_COMM_WORLD, request);
  });
  if (size > INT_MAX) {
    throw_error<ValueError>("dist::broadcast: {} bytes; MPI counts at most {} per call", size,
                            INT_MAX);
  }
  bytes.resize(size);
  collective("broadcast", "MPI_Ibcast", [&](MPI_Request* request) {
    return MPI_Ibcast(bytes.data(), static_cast<int>(size), MPI_BYTE, root, MPI_COMM_WORLD,
                      request);
  });
}

void barrier() {
  if (world_size() == 1) return;
  collective("barrier", "MPI_Ibarrier",
             [](MPI_Request* request) { return MPI_Ibarrier(MPI_COMM_WORLD, request); });
}

std::vector<std::uint64_t> all_gather(std::uint64_t value) {
  std::vector<std::uint64_t> values(world_size(), value);
  if (values.size() == 1) return values;
  collective("all_gather", "MPI_Iallgather", [&](MPI_Request* request) {
    return MPI_Iallgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD,
                          request);
  });
  return values;
}

namespace detail {

bool communication_thread_allowed() {
  return !mpi_running() || thread_level >= MPI_THREAD_SERIALIZED;
}

}  // namespace detail
}  // namespace tapegrad::dist

// TaskCounter over MPI. Rank 0 holds the count (a LocalCounter) and a service thread answers
// the other ranks' requests for it; rank 0's own threads count locally. Chosen over MPI's
// one-sided MPI_Fetch_and_op on a window at rank 0 because Open MPI's one-sided operations
// between machines (TCP) progress only when the target calls into MPI, so a rank 0 busy
// training would hold every other rank up: the service thread is that progress, made
// explicit. Every wait polls as wait() does, bounded by timeout() or, in finish(), by the
// other ranks' reports that they are alive.
namespace tapegrad::dist::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kAlivePeriod = std::chrono::seconds(1);
constexpr int kRequestTag = 0;        // requests to rank 0's service
constexpr int kReplyTags = 32000;     // replies use tags 1..kReplyTags (MPI_TAG_UB >= 32767)
constexpr std::uint64_t kNobody = 0;  // the answer to kAlive when every rank was heard from

enum Kind : std::int64_t { kNext, kClose, kAlive, kReport };
struct Request {
  std::int64_t kind, reply_tag;
  std::int64_t size;  // kReport: the bytes that follow, sent with the reply tag
};
constexpr int kRequestWords = 3;

// The pending wait was given up (its thread is asked to stop): nothing to report.
struct Abandoned {};

double seconds(std::chrono::milliseconds t) {
  return std::chrono::duration<double>(t).count();
}

// Polls `request` as wait() does; `give_up` runs between polls and throws to stop waiting
// (Abandoned, or a CommunicationError that leaves MPI unfinished).
MPI_Status poll(MPI_Request& request, std::string_view call, const std::function<void()>& give_up) {
  return dist::poll(request, "TaskCounter", call, [&](Clock::duration) { give_up(); });
}

// Receives `count` elements into `data` as poll() waits, the receive cancelled if given up.
MPI_Status receive(void* data, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                   const std::function<void()>& give_up) {
  MPI_Request request;
  check(MPI_Irecv(data, count, type, source, tag, comm, &request), "TaskCounter", "MPI_Irecv");
  try {
    return poll(request, "MPI_Irecv", give_up);
  } catch (...) {
    MPI_Cancel(&request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    throw;
  }
}

// Polls a collective as poll() does. One given up stays posted (MPI cannot cancel it), and
// if the missing rank comes back MPI still writes into its buffers: they are then leaked
// rather than freed.
template <class Buffers>
void poll_collective(MPI_Request& request, std::string_view call,
                     const std::function<void()>& give_up, std::unique_ptr<Buffers>& buffers) {
  try {
    poll(request, call, give_up);
  } catch (...) {
    static_cast<void>(buffers.release());
    throw;
  }
}

// A give_up that throws CommunicationError once `timeout` has passed.
std::function<void()> deadline(std::chrono::milliseconds timeout, std::string what) {
  const Clock::time_point end = Clock::now() + timeout;
  return [end, timeout, what = std::move(what)] {
    if (Clock::now() > end) {
      throw_error<CommunicationError>(
          "dist::TaskCounter: {} for {} s, on {} (a longer limit: tg::dist::set_timeout, "
          "TAPEGRAD_DIST_TIMEOUT)",
          what, seconds(timeout), this_rank());
    }
  };
}

class SharedCounter final : public TaskCounter::Impl {
 public:
  // Rank 0 reports a rank silent after timeout(): the others report several times within it.
  explicit SharedCounter(std::function<void(std::string_view)> on_report)
      : on_report_(std::move(on_report)),
        timeout_(std::chrono::duration_cast<std::chrono::milliseconds>(timeout())),
        alive_period_(std::min<std::chrono::milliseconds>(kAlivePeriod, timeout_ / 4)),
        rank_(rank()) {
    int level = 0;
    check(MPI_Query_thread(&level), "TaskCounter", "MPI_Query_thread");
    if (level < MPI_THREAD_MULTIPLE) {
      throw_error<CommunicationError>(
          "dist::TaskCounter: the threads of {} call MPI at once, which this MPI does not "
          "support (it gave thread level {}, MPI_THREAD_MULTIPLE is {})",
          this_rank(), level, MPI_THREAD_MULTIPLE);
    }
    // Its own communicator, so that its messages never match anyone else's.
    // Given up, MPI may still write the handle: then leaked rather than freed.
    auto comm = std::make_unique<MPI_Comm>();
    try {
      collective("TaskCounter", "MPI_Comm_idup", [&](MPI_Request* request) {
        return MPI_Comm_idup(MPI_COMM_WORLD, comm.get(), request);
      });
    } catch (...) {
      static_cast<void>(comm.release());
      throw;
    }
    comm_ = *comm;
    if (rank_ == 0) {
      last_heard_.assign(world_size(), Clock::now());
      service_ = std::jthread([this](std::stop_token stop) { guarded([&] { serve(stop); }); });
    } else {
      alive_ = std::jthread([this](std::stop_token stop) { guarded([&] { report_alive(stop); }); });
    }
  }

  ~SharedCounter() override {
    end(service_);
    end(alive_);
    MPI_Comm_free(&comm_);
  }

  std::uint64_t next() override { return rank_ == 0 ? local_.next() : ask(kNext); }

  void close() override {
    if (rank_ == 0) {
      local_.close();
    } else {
      ask(kClose);
    }
  }

  void report(std::string_view bytes) override {
    if (rank_ == 0) return;
    if (bytes.size() > INT_MAX) {
      throw_error<CommunicationError>(
          "dist::TaskCounter: a report of {} bytes is more than MPI sends at once ({})",
          bytes.size(), INT_MAX);
    }
    ask(kReport, {}, bytes);
  }

  // What ends finish() early, and TaskCounter::check(): a rank silent for the timeout, or a
  // failed service or reporter. Rank 0 tells the others of a silent rank for two of their reports
  // before it gives up itself (and its service ends), so that they name that rank rather than rank
  // 0.
  void check_alive() override {
    const std::uint64_t silent =
        rank_ == 0 ? silent_rank_plus_one(timeout_ + 2 * alive_period_) : silent_.load();
    if (silent != kNobody) {
      throw_error<CommunicationError>(
          "dist::TaskCounter: rank {} has not been heard from for {} s (it stopped or died), "
          "seen on {}",
          silent - 1, seconds(timeout_), this_rank());
    }
    throw_if_thread_failed();
  }

  std::vector<std::string> finish(std::string_view result) override {
    std::vector<std::string> results = gather(result, [this] { check_alive(); });
    // Every rank got every result. The service runs on until no rank can ask it anything:
    // until every reporter's last report was answered.
    stop_reporting();
    collective("TaskCounter", "MPI_Ibarrier",
               [&](MPI_Request* request) { return MPI_Ibarrier(comm_, request); });
    end(service_);
    throw_if_thread_failed();
    return results;
  }

 private:
  // Ends a thread at once, abandoning its wait (the destructor's way, also after an error).
  static void end(std::jthread& thread) {
    if (!thread.joinable()) return;
    thread.request_stop();
    thread.join();
  }

  // Runs a thread's body, keeping its error for finish() (a thread cannot throw to anyone).
  void guarded(const std::function<void()>& body) {
    try {
      body();
    } catch (const Abandoned&) {
    } catch (const std::exception& e) {
      const std::lock_guard lock(mutex_);
      thread_error_ = e.what();
    }
  }

  // A request to rank 0 (with a report's bytes) and its answer, within the timeout (or until
  // `stop` is requested).
  std::uint64_t ask(Kind kind, std::stop_token stop = {}, std::string_view bytes = {}) {
    const int tag = 1 + static_cast<int>(reply_tags_.fetch_add(1) % kReplyTags);
    // A few dozen bytes go out eagerly: MPI_Send returns without waiting for rank 0.
    const Request request{kind, tag, static_cast<std::int64_t>(bytes.size())};
    check(MPI_Send(&request, kRequestWords, MPI_INT64_T, 0, kRequestTag, comm_), "TaskCounter",
          "MPI_Send");
    if (kind == kReport) {
      check(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, tag, comm_),
            "TaskCounter", "MPI_Send");
    }
    const std::function<void()> overdue = deadline(timeout_, "rank 0 did not answer");
    std::uint64_t answer = 0;
    receive(&answer, 1, MPI_UINT64_T, 0, tag, comm_, [&] {
      if (stop.stop_requested()) throw Abandoned{};
      overdue();
    });
    return answer;
  }

  // Rank 0: answers requests until asked to stop.
  void serve(std::stop_token stop) {
    for (;;) {
      Request request{};
      const auto stopped = [&] {
        if (stop.stop_requested()) throw Abandoned{};
      };
      const MPI_Status status = receive(&request, kRequestWords, MPI_INT64_T, MPI_ANY_SOURCE,
                                        kRequestTag, comm_, stopped);
      if (request.kind == kReport) {
        std::string bytes(static_cast<std::size_t>(request.size), '\0');
        receive(bytes.data(), static_cast<int>(request.size), MPI_BYTE, status.MPI_SOURCE,
                static_cast<int>(request.reply_tag), comm_, stopped);
        if (on_report_) on_report_(bytes);
      }
      const std::uint64_t answer = answer_to(request.kind, status.MPI_SOURCE);
      check(MPI_Send(&answer, 1, MPI_UINT64_T, status.MPI_SOURCE,
                     static_cast<int>(request.reply_tag), comm_),
            "TaskCounter", "MPI_Send");
    }
  }

  std::uint64_t answer_to(std::int64_t kind, int from) {
    {
      const std::lock_guard lock(mutex_);
      last_heard_[from] = Clock::now();
    }
    if (kind == kNext) return local_.next();
    if (kind == kClose) local_.close();
    return silent_rank_plus_one(timeout_);
  }

  // Rank 0: 1 + the first rank not heard from for `silence`, or kNobody.
  std::uint64_t silent_rank_plus_one(std::chrono::milliseconds silence) {
    const std::lock_guard lock(mutex_);
    for (std::size_t r = 1; r < last_heard_.size(); ++r) {
      if (Clock::now() - last_heard_[r] > silence) return r + 1;
    }
    return kNobody;
  }

  // The other ranks: tells rank 0 this rank is alive, about once a second, and learns from it
  // whether some rank fell silent.
  void report_alive(std::stop_token stop) {
    for (;;) {
      silent_.store(ask(kAlive, stop));
      std::unique_lock lock(pause_mutex_);
      if (pause_.wait_for(lock, stop, alive_period_, [this] { return finishing_; })) return;
      if (stop.stop_requested()) return;
    }
  }

  // Ends the reporter after its report in flight, if any, was answered.
  void stop_reporting() {
    {
      const std::lock_guard lock(pause_mutex_);
      finishing_ = true;
    }
    pause_.notify_all();
    if (alive_.joinable()) alive_.join();
  }

  void throw_if_thread_failed() {
    const std::lock_guard lock(mutex_);
    if (!thread_error_.empty()) throw CommunicationError(thread_error_);
  }

  // Every rank's `result`, indexed by rank.
  std::vector<std::string> gather(std::string_view result, const std::function<void()>& give_up) {
    const int ranks = world_size();
    struct Buffers {
      std::string mine;
      std::uint64_t size;
      std::vector<std::uint64_t> sizes;
      std::vector<int> counts, offsets;
      std::string all;
    };
    auto b = std::make_unique<Buffers>(Buffers{.mine = std::string(result),
                                               .size = result.size(),
                                               .sizes = std::vector<std::uint64_t>(ranks),
                                               .counts = std::vector<int>(ranks),
                                               .offsets = std::vector<int>(ranks),
                                               .all = {}});
    MPI_Request request;
    check(MPI_Iallgather(&b->size, 1, MPI_UINT64_T, b->sizes.data(), 1, MPI_UINT64_T, comm_,
                         &request),
          "TaskCounter", "MPI_Iallgather");
    poll_collective(request, "MPI_Iallgather", give_up, b);
    const std::uint64_t total = std::accumulate(b->sizes.begin(), b->sizes.end(), std::uint64_t{0});
    if (total > INT_MAX) {
      throw_error<CommunicationError>(
          "dist::TaskCounter: the ranks' results hold {} bytes, more than MPI sends at once ({})",
          total, INT_MAX);
    }
    for (int r = 0; r < ranks; ++r) {
      b->counts[r] = static_cast<int>(b->sizes[r]);
      b->offsets[r] = r == 0 ? 0 : b->offsets[r - 1] + b->counts[r - 1];
    }
    b->all.resize(total);
    check(MPI_Iallgatherv(b->mine.data(), static_cast<int>(b->mine.size()), MPI_BYTE, b->all.data(),
                          b->counts.data(), b->offsets.data(), MPI_BYTE, comm_, &request),
          "TaskCounter", "MPI_Iallgatherv");
    poll_collective(request, "MPI_Iallgatherv", give_up, b);
    std::vector<std::string> results(ranks);
    for (int r = 0; r < ranks; ++r) results[r] = b->all.substr(b->offsets[r], b->counts[r]);
    return results;
  }

  const std::function<void(std::string_view)> on_report_;  // rank 0: the other ranks' reports
  const std::chrono::milliseconds timeout_, alive_period_;
  const int rank_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  LocalCounter local_;                          // rank 0: the count
  std::mutex mutex_;                            // guards last_heard_ and thread_error_
  std::vector<Clock::time_point> last_heard_;   // rank 0: each rank's last request
  std::string thread_error_;                    // what ended the service or the reporter
  std::atomic<std::uint64_t> silent_{kNobody};  // other ranks: rank 0's last kAlive answer
  std::atomic<std::uint32_t> reply_tags_{0};
  std::mutex pause_mutex_;  // the reporter's pause between reports, which finish() ends
  std::condition_variable_any pause_;
  bool finishing_ = false;
  std::jthread service_, alive_;  // rank 0's service; the other ranks' reporter
};

}  // namespace

std::unique_ptr<TaskCounter::Impl> make_task_counter(
    const std::function<void(std::string_view)>& on_report) {
  if (world_size() == 1) return std::make_unique<LocalCounter>();
  return std::make_unique<SharedCounter>(on_report);
}

}  // namespace tapegrad::dist::detail

#endif
