// The built-in callbacks; see callbacks.hpp.
#include <tapegrad/nn/callbacks.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <string_view>

#include <fmt/ranges.h>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/core/atomic_file.hpp>
#include <tapegrad/core/kernels.hpp>
#include <tapegrad/core/regular_file.hpp>

namespace tapegrad::nn {

void Callback::set_context(Module& model, optim::Optimizer& opt, const TrainParams& params) {
  model_ = &model;
  optimizer_ = &opt;
  params_ = params;
  stop_training_ = false;
}

Module& Callback::model() const {
  if (!model_) throw ValueError("Callback: no model yet (the callback runs inside fit)");
  return *model_;
}

optim::Optimizer& Callback::optimizer() const {
  if (!optimizer_) throw ValueError("Callback: no optimizer yet (the callback runs inside fit)");
  return *optimizer_;
}

double monitored(const Logs& logs, const std::string& monitor, const char* who) {
  auto it = logs.find(monitor);
  if (it == logs.end() && monitor == "val_loss") it = logs.find("loss");
  if (it != logs.end()) return it->second;
  std::string keys;
  for (const auto& [key, value] : logs) keys += (keys.empty() ? "" : ", ") + key;
  throw_error<ValueError>("{}: no metric '{}' in the epoch logs (have: {})", who, monitor, keys);
}

bool higher_is_better(const std::string& monitor) {
  const std::string metric = monitor.starts_with("val_") ? monitor.substr(4) : monitor;
  return metric == "accuracy" || metric == "r2";
}

namespace {

// Whether `current` beats `best` by more than `min_delta` in the monitored metric's direction;
// NaN never does.
bool improves(double current, double best, double min_delta, bool higher_better) {
  return higher_better ? current - min_delta > best : current + min_delta < best;
}

}  // namespace

void History::record(const Logs& epoch_logs) {
  for (const auto& [key, value] : epoch_logs) history[key].push_back(value);
  ++epochs;
}

const std::vector<double>& History::operator[](const std::string& key) const {
  const auto it = history.find(key);
  if (it == history.end()) throw_error<ValueError>("History: no '{}' (was there validation?)", key);
  return it->second;
}

// ---- EarlyStopping ----

namespace {

std::vector<Tensor> snapshot(const Module& model) {
  std::vector<Tensor> copies;
  for (const Tensor& p : model.parameters()) copies.push_back(p.detach().clone());
  return copies;
}

void restore(const Module& model, const std::vector<Tensor>& copies) {
  NoGradGuard no_grad;
  const std::vector<Tensor> params = model.parameters();
  for (std::size_t i = 0; i < params.size(); ++i) kernel::copy_into(params[i], copies.at(i));
}

}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions opts) : opts_(std::move(opts)) {
  if (opts_.patience < 0) throw ValueError("EarlyStopping: patience must be >= 0");
  opts_.min_delta = std::abs(opts_.min_delta);
}

void EarlyStopping::on_train_begin(const Logs&) {
  best_ = higher_is_better(opts_.monitor) ? -INFINITY : INFINITY;
  best_epoch_ = -1;
  wait_ = 0;
  stopped_epoch_ = -1;
  restored_epoch_ = -1;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(int epoch, const Logs& logs) {
  const double current = monitored(logs, opts_.monitor, "EarlyStopping");
  ++wait_;
  if (improves(current, best_, opts_.min_delta, higher_is_better(opts_.monitor))) {
    best_ = current;
    best_epoch_ = epoch;
    wait_ = 0;
    if (opts_.restore_best_weights) best_weights_ = snapshot(model());
    return;
  }
  if (wait_ < opts_.patience || epoch == 0) return;
  stopped_epoch_ = epoch;
  request_stop();
  restore_best();
}

void EarlyStopping::on_train_end(const Logs&) {
  if (restored_epoch_ < 0) restore_best();
}

void EarlyStopping::restore_best() {
  if (best_weights_.empty()) return;
  restore(model(), best_weights_);
  restored_epoch_ = best_epoch_;
}

// ---- ModelCheckpoint ----

ModelCheckpoint::ModelCheckpoint(std::string path_pattern, SaveFn save_fn, CheckpointOptions opts)
    : pattern_(std::move(path_pattern)), save_fn_(std::move(save_fn)), opts_(std::move(opts)) {
  if (!save_fn_) throw ValueError("ModelCheckpoint: no save function");
  try {  // a typo in the pattern should fail now, not after the first epoch of training
    (void)path_for(0, {{"loss", 1.0}, {"val_loss", 1.0}, {"lr", 1.0}});
  } catch (const fmt::format_error& e) {
    throw_error<ValueError>("ModelCheckpoint: bad path pattern '{}': {}", pattern_, e.what());
  }
}

ModelCheckpoint::ModelCheckpoint(std::function<void(int epoch)> save_fn, CheckpointOptions opts)
    : ModelCheckpoint(
          "", [fn = std::move(save_fn)](const std::string&, int epoch) { fn(epoch); },
          std::move(opts)) {}

std::string ModelCheckpoint::path_for(int epoch, const Logs& logs) const {
  const auto value = [&](const char* key) {
    const auto it = logs.find(key);
    return it == logs.end() ? NAN : it->second;
  };
  return fmt::format(fmt::runtime(pattern_), fmt::arg("epoch", epoch + 1),
                     fmt::arg("loss", value("loss")), fmt::arg("val_loss", value("val_loss")),
                     fmt::arg("lr", value("lr")));
}

void ModelCheckpoint::on_train_begin(const Logs&) {
  best_.reset();
}

void ModelCheckpoint::on_epoch_end(int epoch, const Logs& logs) {
  if (opts_.save_best_only) {
    const double current = monitored(logs, opts_.monitor, "ModelCheckpoint");
    if (best_ && !improves(current, *best_, 0, higher_is_better(opts_.monitor))) return;
    if (std::isnan(current)) return;
    best_ = current;
  }
  last_path_ = path_for(epoch, logs);
  save_fn_(last_path_, epoch);
}

// ---- CSVLogger ----

namespace {

// The columns every log has, in this order; a run's metrics add theirs after them.
constexpr std::string_view kCsvLogHeader = "epoch,loss,val_loss,lr\n";
const std::vector<std::string> kCsvLogKeys{"loss", "val_loss", "lr"};
// A log of fit's most epochs (--epochs is at most 10^6) is some 60 MB.
constexpr std::uint64_t kMaxCsvLogBytes = std::uint64_t{256} << 20;

// A value of a CSVLogger row: a number in full, or NA (NaN).
std::optional<double> parse_log_value(std::string_view text) {
  if (text == "NA") return NAN;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

CSVLogger::CSVLogger(std::string path, History earlier)
    : path_(std::move(path)), earlier_(std::move(earlier)) {
  for (const auto& [key, values] : earlier_.history) {
    if (static_cast<int>(values.size()) != earlier_.epochs) {
      throw_error<ValueError>("CSVLogger: the earlier history has {} epochs but {} '{}' values",
                              earlier_.epochs, values.size(), key);
    }
  }
}

CSVLogger::~CSVLogger() = default;

void CSVLogger::on_train_begin(const Logs&) {
  if (earlier_.epochs != params().initial_epoch) {
    throw_error<ValueError>(
        "CSVLogger: the earlier history has {} epochs but fit starts at initial_epoch {}",
        earlier_.epochs, params().initial_epoch);
  }
  history_ = earlier_;
  columns_ = kCsvLogKeys;
  for (const std::string& metric : params().metrics) {
    columns_.push_back(metric);
    columns_.push_back("val_" + metric);
  }
  std::string text = fmt::format("epoch,{}\n", fmt::join(columns_, ","));
  for (int epoch = 0; epoch < history_.epochs; ++epoch) text += row(epoch);
  write_file_atomically("CSVLogger", path_, text);
  file_ = std::make_unique<AppendFile>("CSVLogger", path_);
}

void CSVLogger::on_epoch_end(int, const Logs& logs) {
  history_.record(logs);
  if (!file_) throw ValueError("CSVLogger: an epoch ended before training began");
  file_->append(row(history_.epochs - 1));
}

void CSVLogger::on_train_end(const Logs&) {
  file_.reset();
}

std::string CSVLogger::row(int epoch) const {
  std::string text = std::to_string(epoch);
  for (const std::string& key : columns_) {
    const auto it = history_.history.find(key);
    const bool known = it != history_.history.end() && epoch < static_cast<int>(it->second.size());
    text += known ? fmt::format(",{}", it->second[static_cast<std::size_t>(epoch)]) : ",NA";
  }
  return text + "\n";
}

History read_csv_log(const std::string& path, int epochs) {
  const auto fail = [&](int line, std::string_view what) {
    throw_error<IOError>("read_csv_log: '{}':{}: {}", path, line, what);
  };
  const std::string text = read_regular_file("read_csv_log", path, kMaxCsvLogBytes);
  std::string_view rest = text;
  // The next line without its '\n'; false at the end of the text.
  const auto next_line = [&](std::string_view& line) {
    if (rest.empty()) return false;
    const std::size_t end = std::min(rest.find('\n'), rest.size());
    line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    return true;
  };
  // The fields of a line, split at commas.
  const auto fields_of = [](std::string_view row) {
    std::vector<std::string_view> fields;
    for (;;) {
      const std::size_t comma = row.find(',');
      fields.push_back(row.substr(0, comma));
      if (comma == std::string_view::npos) return fields;
      row.remove_prefix(comma + 1);
    }
  };
  std::string_view line;
  const std::string_view base = kCsvLogHeader.substr(0, kCsvLogHeader.size() - 1);
  // The base columns, then any metric columns (name, val_name) of the run.
  if (!next_line(line) || !(line == base || line.starts_with(std::string(base) + ","))) {
    fail(1, fmt::format("expected the header epoch,loss,val_loss,lr, got {}", quoted(line)));
  }
  const std::vector<std::string_view> header = fields_of(line);
  const std::vector<std::string> keys(header.begin() + 1, header.end());
  History h;
  std::set<std::string> logged;  // keys with a value other than NA
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const int at = epoch + 2;  // line number
    if (!next_line(line)) {
      fail(at, fmt::format("the log ends after {} epochs, {} were asked for", epoch, epochs));
    }
    const std::vector<std::string_view> fields = fields_of(line);
    if (fields.size() != header.size() || fields[0] != std::to_string(epoch)) {
      fail(at, fmt::format("expected the row of epoch {} ({} fields), got {}", epoch, header.size(),
                           quoted(line)));
    }
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const std::optional<double> v = parse_log_value(fields[k + 1]);
      if (!v) fail(at, fmt::format("{} is not a number or NA", quoted(fields[k + 1])));
      h.history[keys[k]].push_back(*v);
      if (fields[k + 1] != "NA") logged.insert(keys[k]);
    }
    ++h.epochs;
  }
  // A column that is NA throughout is one the run did not have (val_loss without validation
  // data), as CSVLogger writes a key it never saw.
  std::erase_if(h.history, [&](const auto& column) { return !logged.contains(column.first); });
  return h;
}

// ---- TerminateOnNaN ----

void TerminateOnNaN::on_batch_end(int64_t batch, const Logs& logs) {
  const auto it = logs.find("batch_loss");
  if (it != logs.end() && !std::isfinite(it->second)) {
    terminated_batch_ = batch;
    request_stop();
  }
}

// ---- learning-rate callbacks ----

LearningRateScheduler::LearningRateScheduler(std::function<double(int, double)> fn)
    : fn_(std::move(fn)) {
  if (!fn_) throw ValueError("LearningRateScheduler: no schedule function");
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs&) {
  optimizer().set_lr(fn_(epoch, optimizer().lr()));
}

ScheduleCallback::ScheduleCallback(std::shared_ptr<optim::Schedule> schedule)
    : schedule_(std::move(schedule)) {
  if (!schedule_) throw ValueError("ScheduleCallback: no schedule");
}

void ScheduleCallback::on_epoch_begin(int epoch, const Logs&) {
  schedule_->set_epoch(epoch);
}

void ScheduleCallback::on_epoch_end(int epoch, const Logs&) {
  schedule_->set_epoch(epoch + 1);
}

ReduceLROnPlateau::ReduceLROnPlateau(optim::PlateauOptions opts, std::string monitor)
    : opts_(opts), monitor_(std::move(monitor)) {}

void ReduceLROnPlateau::on_train_begin(const Logs&) {
  plateau_ = std::make_unique<optim::ReduceLROnPlateau>(optimizer(), opts_);
}

void ReduceLROnPlateau::on_epoch_end(int, const Logs& logs) {
  plateau_->step(monitored(logs, monitor_, "ReduceLROnPlateau"));
}

}  // namespace tapegrad::nn
