// DataParallel; data_parallel.hpp says how it works.
#include <tapegrad/nn/data_parallel.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <tapegrad/autograd/backward_hooks.hpp>
#include <tapegrad/core/dist_detail.hpp>
#include <tapegrad/core/error.hpp>
#include <tapegrad/nn/dist.hpp>

namespace tapegrad::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs tasks one after another, in the order posted, on a thread of its own (or, without
// one, on the thread that waits). wait() returns once every posted task has run, and
// rethrows the first exception a task threw.
class SerialWorker {
 public:
  explicit SerialWorker(bool threaded) {
    if (threaded) thread_ = std::thread([this] { serve(); });
  }
  ~SerialWorker() {
    if (!thread_.joinable()) return;
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  void post(std::function<void()> task) {
    {
      const std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_all();
  }

  void wait() {
    std::unique_lock lock(mutex_);
    if (!thread_.joinable()) {
      while (!tasks_.empty()) run_next(lock);
    }
    idle_.wait(lock, [&] { return tasks_.empty() && !busy_; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void serve() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      run_next(lock);
      if (tasks_.empty()) idle_.notify_all();
    }
  }

  // After a task failed the others are dropped: the collectives they would post no longer
  // pair up with the other ranks'.
  void run_next(std::unique_lock<std::mutex>& lock) {
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    if (error_) return;
    busy_ = true;
    lock.unlock();
    std::exception_ptr error;
    try {
      task();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    busy_ = false;
    if (error && !error_) error_ = error;
  }

  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<void()>> tasks_;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// A flat buffer of several parameters' gradients, followed by one "has a gradient" flag
// per parameter, summed over the ranks as one tensor.
struct Bucket {
  DType dtype = f32;
  std::vector<int> params;
  std::vector<std::int64_t> offsets;  // of each parameter's gradient in buffer
  std::int64_t values = 0;            // gradient elements; the flags follow them
  Tensor buffer;
  std::int64_t waiting = 0;  // parameters of this step not yet copied in
};

void check_options(const DataParallelOptions& opts) {
  if (opts.first_bucket_bytes <= 0 || opts.bucket_bytes <= 0) {
    throw_error<ValueError>(
        "DataParallel: bucket sizes must be positive; got first_bucket_bytes {} and "
        "bucket_bytes {}",
        opts.first_bucket_bytes, opts.bucket_bytes);
  }
}

}  // namespace

class DataParallel::State {
 public:
  State(const NamedTensors& parameters, const DataParallelOptions& options)
      : opts(options),
        params(parameters),
        weight(1.0 / world_size()),
        worker(options.communication_thread && detail::communication_thread_allowed()) {
    for (int p = 0; p < static_cast<int>(params.size()); ++p) {
      const Tensor& param = params[p].second;
      if (!param.requires_grad()) continue;
      index_of[autograd_meta(param)] = p;
      hooks.push_back(register_post_accumulate_grad_hook(
          param, [this, p](const Tensor& grad) { gradient_complete(p, grad); }));
    }
  }

  // A parameter's post-accumulate hook: the first of a backward pass opens the step.
  void gradient_complete(int p, const Tensor& grad) {
    if (!syncing) return;
    if (!in_step) {
      begin_step(backward_leaf_order());
      queue_backward_callback([this] { end_step(); });
    }
    copy_in(p, grad);
  }

  void begin_step(const std::vector<const AutogradMeta*>& leaf_order) {
    if (buckets.empty()) lay_out_buckets(gradient_order(leaf_order));
    in_step = true;
    copied.assign(params.size(), false);
    next_to_send = 0;
    for (Bucket& b : buckets) b.waiting = static_cast<std::int64_t>(b.params.size());
  }

  // The parameters backward did not reach send what .grad() holds (gradients accumulated
  // under no_sync) or nothing; then backward's thread waits for every bucket and writes the
  // means into .grad().
  void end_step() {
    for (int p = 0; p < static_cast<int>(params.size()); ++p) {
      if (bucket_of[p] >= 0 && !copied[p]) copy_in(p, params[p].second.grad());
    }
    in_step = false;
    const auto wait_start = Clock::now();
    worker.wait();
    {
      const std::lock_guard lock(stats_mutex);
      stats.exposed_seconds += seconds_since(wait_start);
      ++stats.steps;
    }
    for (const Bucket& b : buckets) copy_out(b);
  }

  std::vector<std::vector<std::string>> bucket_names() const {
    std::vector<std::vector<std::string>> names;
    for (const Bucket& b : buckets) {
      auto& bucket = names.emplace_back();
      for (int p : b.params) bucket.push_back(params[p].first);
    }
    return names;
  }

  DataParallelStats stats_so_far() {
    const std::lock_guard lock(stats_mutex);
    return stats;
  }

  DataParallelOptions opts;
  NamedTensors params;
  double weight;
  bool syncing = true;

 private:
  // The parameters in the order backward completes their gradients: those of `leaf_order`
  // first, then any the pass does not reach, last registered first (backward reaches the
  // last layers first).
  std::vector<int> gradient_order(const std::vector<const AutogradMeta*>& leaf_order) const {
    std::vector<int> order;
    std::vector<bool> placed(params.size(), false);
    for (const AutogradMeta* leaf : leaf_order) {
      const auto it = index_of.find(leaf);
      if (it == index_of.end() || placed[it->second]) continue;
      placed[it->second] = true;
      order.push_back(it->second);
    }
    for (int p = static_cast<int>(params.size()) - 1; p >= 0; --p) {
      if (!placed[p] && index_of.contains(autograd_meta(params[p].second))) order.push_back(p);
    }
    return order;
  }

  // Every rank must post the same collectives in the same order: rank 0's order is the one.
  static std::vector<int> root_order(const std::vector<int>& order) {
    std::vector<double> values(order.begin(), order.end());
    const Tensor shared = from_vector(values, {static_cast<std::int64_t>(values.size())});
    broadcast(shared);
    values = shared.to_vector<double>();
    return {values.begin(), values.end()};
  }

  void lay_out_buckets(const std::vector<int>& local_order) {
    bucket_of.assign(params.size(), -1);
    slot_of.assign(params.size(), -1);
    std::int64_t limit = opts.first_bucket_bytes;
    std::int64_t bytes = 0;
    for (int p : root_order(local_order)) {
      const Tensor& param = params[p].second;
      const auto size = param.numel() * static_cast<std::int64_t>(element_size(param.dtype()));
      if (buckets.empty() || bytes + size > limit || buckets.back().dtype != param.dtype()) {
        if (!buckets.empty()) limit = opts.bucket_bytes;
        buckets.emplace_back().dtype = param.dtype();
        bytes = 0;
      }
      Bucket& b = buckets.back();
      bucket_of[p] = static_cast<int>(buckets.size()) - 1;
      slot_of[p] = static_cast<int>(b.params.size());
      b.params.push_back(p);
      b.offsets.push_back(b.values);
      b.values += param.numel();
      bytes += size;
    }
    for (Bucket& b : buckets) {
      b.buffer = zeros({b.values + static_cast<std::int64_t>(b.params.size())}, b.dtype);
    }
  }

  // Writes weight * grad (or zeros and "no gradient" when grad is undefined) into parameter
  // p's place in its bucket, and sends the buckets that are complete, in order.
  void copy_in(int p, const Tensor& grad) {
    if (bucket_of[p] < 0 || copied[p]) return;
    copied[p] = true;
    Bucket& b = buckets[bucket_of[p]];
    const int slot = slot_of[p];
    const std::int64_t n = params[p].second.numel();
    dispatch(b.dtype, [&]<class T>(T) {
      T* values = b.buffer.data<T>() + b.offsets[slot];
      if (grad.defined()) {
        const Tensor g = grad.contiguous();
        const T* from = g.data<T>();
        const auto w = static_cast<T>(weight);
        for (std::int64_t i = 0; i < n; ++i) values[i] = from[i] * w;
      } else {
        std::fill(values, values + n, T(0));
      }
      b.buffer.data<T>()[b.values + slot] = grad.defined() ? T(1) : T(0);
    });
    --b.waiting;
    send_complete_buckets();
  }

  void send_complete_buckets() {
    while (next_to_send < buckets.size() && buckets[next_to_send].waiting == 0) {
      const Tensor buffer = buckets[next_to_send++].buffer;
      worker.post([this, buffer] {
        const auto start = Clock::now();
        all_reduce(buffer, Op::sum, opts.order);
        const std::lock_guard lock(stats_mutex);
        stats.communicating_seconds += seconds_since(start);
      });
    }
  }

  // .grad() of each parameter some rank has a gradient for becomes the sum; the others keep
  // none.
  void copy_out(const Bucket& b) const {
    for (std::size_t slot = 0; slot < b.params.size(); ++slot) {
      const Tensor& param = params[b.params[slot]].second;
      dispatch(b.dtype, [&]<class T>(T) {
        const T* sum = b.buffer.data<T>();
        if (sum[b.values + slot] == T(0)) return;
        Tensor grad = param.grad();
        if (!grad.defined() || !grad.is_contiguous()) {
          grad = empty(param.shape(), param.dtype());
          param.set_grad(grad);
        }
        std::copy_n(sum + b.offsets[slot], param.numel(), grad.data<T>());
        grad.bump_version();
      });
    }
  }

  std::unordered_map<const AutogradMeta*, int> index_of;
  std::vector<Bucket> buckets;          // empty until the first step lays them out
  std::vector<int> bucket_of, slot_of;  // per parameter: its bucket and its place there
  // The step under way: which parameters are in their bucket, the next bucket to send.
  bool in_step = false;
  std::vector<bool> copied;
  std::size_t next_to_send = 0;
  std::mutex stats_mutex;  // the worker adds to stats while the caller may read them
  DataParallelStats stats;
  std::vector<HookHandle> hooks;
  SerialWorker worker;  // last: destroyed (joined) first, before what its tasks use
};

DataParallel::DataParallel(nn::Module& model, DataParallelOptions opts) : model_(model) {
  check_options(opts);
  broadcast_parameters(model);
  if (world_size() > 1) state_ = std::make_unique<State>(model.named_parameters(), opts);
}

DataParallel::~DataParallel() = default;

void DataParallel::set_weight(double weight) {
  if (!std::isfinite(weight) || weight < 0) {
    throw_error<ValueError>("DataParallel::set_weight: {} is not a finite weight >= 0", weight);
  }
  if (state_) state_->weight = weight;
}

DataParallel::NoSync::NoSync(DataParallel& ddp)
    : ddp_(ddp), was_syncing_(ddp.state_ && ddp.state_->syncing) {
  if (ddp_.state_) ddp_.state_->syncing = false;
}

DataParallel::NoSync::~NoSync() {
  if (ddp_.state_) ddp_.state_->syncing = was_syncing_;
}

void DataParallel::synchronize() {
  if (!state_) return;
  state_->begin_step({});
  state_->end_step();
}

std::vector<std::vector<std::string>> DataParallel::buckets() const {
  return state_ ? state_->bucket_names() : std::vector<std::vector<std::string>>{};
}

DataParallelStats DataParallel::stats() const {
  return state_ ? state_->stats_so_far() : DataParallelStats{};
}

}  // namespace tapegrad::dist
