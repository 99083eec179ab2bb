// tg::dist over MPI's C API (TAPEGRAD_MPI=ON). MPI_COMM_WORLD is the process group;
// MPI_ERRORS_RETURN on it turns every failed call into a CommunicationError instead of
// MPI's default, which aborts the whole job from inside the library.
#if TAPEGRAD_MPI

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/core/dist_detail.hpp>

namespace tapegrad::dist {
namespace {

bool session_open = false;

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

// "rank R of N", asked without check(), which calls this: a failing MPI_Comm_rank must not
// recurse.
std::string this_rank() {
  int r = 0;
  int n = 1;
  if (mpi_running()) {
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
  }
  return fmt::format("rank {} of {}", r, n);
}

void check(int code, std::string_view op, std::string_view call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw_error<CommunicationError>("dist::{}: {} failed on {}: {}", op, call, this_rank(),
                                  std::string_view(text, length));
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
      offsets[j] = static_cast<int>(std::int64_t{count} * j / ranks);
      counts[j] = static_cast<int>(std::int64_t{count} * (j + 1) / ranks) - offsets[j];
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
  check(
      MPI_Alltoallv(data, slices.counts.data(), slices.offsets.data(), mpi_type<T>(), parts.data(),
                    part_counts.data(), part_offsets.data(), mpi_type<T>(), MPI_COMM_WORLD),
      "all_reduce", "MPI_Alltoallv");
  T* sum = data + slices.offsets[me];
  std::copy_n(parts.data(), mine, sum);
  for (int i = 1; i < ranks; ++i) {
    const T* part = parts.data() + static_cast<std::size_t>(i) * mine;
    for (int k = 0; k < mine; ++k) sum[k] += part[k];
  }
  check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, slices.counts.data(),
                       slices.offsets.data(), mpi_type<T>(), MPI_COMM_WORLD),
        "all_reduce", "MPI_Allgatherv");
}

template <class T>
void reduce(T* data, int count, Op op, Order order) {
  if (op == Op::max || op == Op::min) {
    check(MPI_Allreduce(MPI_IN_PLACE, data, count, mpi_type<T>(), op == Op::max ? MPI_MAX : MPI_MIN,
                        MPI_COMM_WORLD),
          "all_reduce", "MPI_Allreduce");
    return;
  }
  if (order == Order::rank_order) {
    sum_in_rank_order(data, count);
  } else {
    check(MPI_Allreduce(MPI_IN_PLACE, data, count, mpi_type<T>(), MPI_SUM, MPI_COMM_WORLD),
          "all_reduce", "MPI_Allreduce");
  }
  if (op == Op::mean) {
    const T ranks = static_cast<T>(world_size());
    for (int k = 0; k < count; ++k) data[k] /= ranks;
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
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "Session",
          "MPI_Init_thread");
  }
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "Session",
        "MPI_Comm_set_errhandler");
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
  session_open = true;
}

Session::~Session() {
  if (finalizes_mpi_) MPI_Finalize();
  session_open = false;
}

int rank() {
  if (!mpi_running()) return 0;
  int r = 0;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "rank", "MPI_Comm_rank");
  return r;
}

int world_size() {
  if (!mpi_running()) return 1;
  int n = 1;
  check(MPI_Comm_size(MPI_COMM_WORLD, &n), "world_size", "MPI_Comm_size");
  return n;
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
    check(MPI_Bcast(t.data<T>(), static_cast<int>(t.numel()), mpi_type<T>(), root, MPI_COMM_WORLD),
          "broadcast", "MPI_Bcast");
  });
  t.bump_version();
}

void barrier() {
  if (world_size() == 1) return;
  check(MPI_Barrier(MPI_COMM_WORLD), "barrier", "MPI_Barrier");
}

std::vector<std::uint64_t> all_gather(std::uint64_t value) {
  std::vector<std::uint64_t> values(world_size(), value);
  if (values.size() == 1) return values;
  check(MPI_Allgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD),
        "all_gather", "MPI_Allgather");
  return values;
}

}  // namespace tapegrad::dist

#endif
