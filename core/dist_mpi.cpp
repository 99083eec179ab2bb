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
#include <cstdlib>
#include <exception>
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

// Completes a non-blocking collective, or throws CommunicationError after timeout(): a
// blocking MPI call would wait forever for a rank that stopped answering.
void wait(MPI_Request& request, std::string_view op, std::string_view call) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto limit = std::chrono::duration_cast<clock::duration>(timeout());
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), op, call);
    if (done != 0) return;
    const auto waited = clock::now() - start;
    if (waited > limit) {
      communication_broken = true;
      throw_error<CommunicationError>(
          "dist::{}: {} waited {:.0f} s on {} and not every rank answered: a rank has stopped, "
          "hung or lost its connection (a longer limit: tg::dist::set_timeout, tapegrad "
          "--timeout, TAPEGRAD_DIST_TIMEOUT)",
          op, call, Seconds(waited).count(), this_rank());
    }
    pause_after(waited);
  }
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

// The BLAS threads of each rank: the cores it may run on, shared with the other ranks of its
// machine, never more (two ranks of two threads on two cores would each run at a fraction of
// their speed). mpirun binds each rank to one core by default with 2 ranks or fewer, so a
// rank that should use several cores needs `mpirun --bind-to none` (README). A thread count
// the user chose (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, or set_num_threads later) wins.
void share_cores_among_local_ranks() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr || std::getenv("OMP_NUM_THREADS") != nullptr) {
    return;
  }
  MPI_Comm machine = MPI_COMM_NULL;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &machine),
        "Session", "MPI_Comm_split_type");
  int local_ranks = 1;
  MPI_Comm_size(machine, &local_ranks);
  MPI_Comm_free(&machine);
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const int mine = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
  const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  kernel::set_num_threads(std::max(1, std::min(mine, cores / local_ranks)));
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

#endif
