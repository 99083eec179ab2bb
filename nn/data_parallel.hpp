// DataParallel: every rank trains a replica of one model on its own part of each batch, and
// backward leaves on every rank the mean of the ranks' gradients, so that every optimizer
// step is the same step on every rank.
//
//   tg::dist::Session session(argc, argv);
//   auto model = build();                       // the same model on every rank
//   tg::dist::DataParallel ddp(*model, {});     // rank 0's weights on every rank
//   for (...) { loss_on_my_share().backward(); opt.step(); opt.zero_grad(); }
//
// How: a post-accumulate hook on each parameter (autograd/backward_hooks.hpp) copies the
// parameter's gradient into a bucket as soon as backward has completed it, and a full bucket
// goes to a communication thread, which sums it over the ranks while backward computes the
// gradients of the layers before it. The last buckets are sent when backward ends; a callback
// queued in the pass waits for every bucket and writes the means into .grad(). The
// communication thread is there because MPI progresses a collective only inside MPI calls
// (Horovod has one for the same reason); with MPI_THREAD_SERIALIZED or more it may call MPI
// while the main thread computes, else the buckets are sent when backward ends.
//
// Buckets are laid out once, at the first backward, in the order backward completes the
// gradients: the engine knows that order before it runs the first rule (it counts each
// leaf's readers), where PyTorch's DDP guesses from the registration order and rebuilds its
// buckets after a first iteration. Rank 0's layout is sent to all, so the ranks post the same
// collectives in the same order even if their graphs differ. The first bucket is small, so
// communication starts early; the later ones larger, for fewer messages.
//
// Sums are in rank order by default (tg::dist::Order::rank_order): every rank gets the same
// bits, so the replicas stay bitwise identical step after step, and a run on a given number
// of ranks is bit-reproducible. Each bucket carries one extra element per parameter, 1 where
// the rank has a gradient for it: a parameter no rank's backward reached keeps no gradient
// (an optimizer skips it, on every rank alike), one that some ranks reached gets the mean
// with zeros from the others, and nothing waits for a hook that will not fire (DDP's
// find_unused_parameters problem).
//
// A world of one needs none of this: there DataParallel registers nothing, and backward is
// what it is without it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/core/dist.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::dist {

struct DataParallelOptions {
  // Bucket sizes, in bytes of gradient: the first bucket, sent when the last layers'
  // gradients are complete, and every later one. A parameter larger than a bucket has a
  // bucket of its own.
  std::int64_t first_bucket_bytes = 256 * 1024;
  std::int64_t bucket_bytes = 1024 * 1024;
  Order order = Order::rank_order;
  // false: send every bucket from backward's thread when backward ends (no overlap).
  bool communication_thread = true;
};

// Time spent communicating, summed over the steps since construction: `communicating` is
// the time the buckets' collectives took, `exposed` the part of it backward's thread waited
// for at the end of backward (what the overlap did not hide).
struct DataParallelStats {
  std::int64_t steps = 0;
  double communicating_seconds = 0;
  double exposed_seconds = 0;
};

class DataParallel {
 public:
  // Broadcasts rank 0's parameters to every rank (broadcast_parameters, which refuses a
  // mismatched model) and hooks every parameter. `model` must outlive this object.
  explicit DataParallel(nn::Module& model, DataParallelOptions opts = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  nn::Module& module() const { return model_; }

  // This rank's part of the mean: its gradients are multiplied by `weight` before the sum
  // over the ranks. 1 / world_size() by default, the plain mean; a rank holding n_r samples
  // of a global batch of N gives n_r / N, and the result is the gradient of the global
  // batch's mean loss, as one process computes it (fit does this with uneven shares).
  void set_weight(double weight);

  // Gradient accumulation without communication: while the returned guard lives, backward
  // only adds to .grad() locally; the first backward after it averages all that was added.
  class NoSync {
   public:
    explicit NoSync(DataParallel& ddp);
    ~NoSync();
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DataParallel& ddp_;
    bool was_syncing_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  // Averages .grad() over the ranks now, as the end of a backward does: for a rank with
  // nothing to backpropagate in a step (an empty share of a small last batch) while the
  // other ranks run backward.
  void synchronize();

  // The parameter names of each bucket, in the order they are sent; empty before the first
  // backward (the layout is made there).
  std::vector<std::vector<std::string>> buckets() const;
  DataParallelStats stats() const;

 private:
  class State;
  nn::Module& model_;
  std::unique_ptr<State> state_;
};

}  // namespace tapegrad::dist
