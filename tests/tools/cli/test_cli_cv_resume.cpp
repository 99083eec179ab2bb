// `tapegrad cv` stopped by SIGKILL and resumed: the journal keeps the fits finished before
// the kill, --resume runs only the others and writes a cv.csv equal, byte for byte, to a
// straight run's; a resume with other flags is refused with exit code 2; --verbose 2 prints
// a line per finished fit.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cli_util.hpp"

using tg_test::contains;
using tg_test::lines_of;
using tg_test::quoted;
using tg_test::read_file;
using tg_test::Result;
using tg_test::ScratchDir;

#ifdef TAPEGRAD_CLI

namespace {

const std::string kAirline = std::string(TAPEGRAD_TEST_DATA_DIR) + "/airline-passengers.csv";

// A search of 3 x `folds` fits that lasts some seconds: long enough to be killed in mid-search.
std::vector<std::string> search_args(const std::string& csv, const std::string& folds = "3",
                                     const std::string& data = kAirline) {
  return {"cv",  "--data",   data,  "--window",     "12", "--units", "2,3,4", "--folds",
          folds, "--epochs", "100", "--batch-size", "8",  "-o",      csv};
}

std::string shell_words(const std::vector<std::string>& args) {
  std::string text;
  for (const std::string& a : args) text += (a.rfind("-", 0) == 0 ? a : quoted(a)) + " ";
  return text;
}

// Starts `tapegrad <args>` in a child process, its output into files in `dir`.
pid_t start(const ScratchDir& dir, const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int out = ::open((dir / "killed.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(TAPEGRAD_CLI)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(TAPEGRAD_CLI, argv.data());
    ::_exit(127);
  }
  return pid;
}

// The fit rows of a journal: the lines after its header (which names the metrics after loss).
std::size_t journal_rows(const std::string& path) {
  const std::vector<std::string> lines = lines_of(read_file(path));
  const auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
    return line.rfind("candidate,units,fold,loss", 0) == 0;
  });
  return header == lines.end() ? 0 : static_cast<std::size_t>(lines.end() - header - 1);
}

// Runs the search in a child and kills it with SIGKILL once its journal holds `rows` fits.
// Every wait is bounded: a child that ends by itself, or never gets there, fails the test.
void run_and_kill(const ScratchDir& dir, const std::vector<std::string>& args,
                  const std::string& journal, std::size_t rows) {
  const pid_t pid = start(dir, args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int status = 0;
  bool ended = false;
  while (journal_rows(journal) < rows && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      ended = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  INFO(read_file(dir / "killed.out"));
  REQUIRE(!ended);  // the search must still have been running
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(journal_rows(journal) >= rows);
}

}  // namespace

TEST_CASE("tapegrad cv killed after some fits: --resume runs the rest, the same cv.csv") {
  ScratchDir dir("cli-cv-resume");
  const std::string straight_csv = dir / "straight.csv", csv = dir / "cv.csv";
  const std::string journal = csv + ".journal";

  const Result straight =
      tg_test::run(dir, shell_words(search_args(straight_csv)) + "--verbose 2", 120);
  CAPTURE(straight.err);
  REQUIRE(straight.code == 0);
  int fit_lines = 0;
  for (const std::string& line : lines_of(straight.out)) fit_lines += line.rfind("[CV ", 0) == 0;
  CHECK(fit_lines == 9);
  CHECK(!std::filesystem::exists(straight_csv + ".journal"));  // removed once cv.csv is written

  run_and_kill(dir, search_args(csv), journal, 2);
  CHECK(!std::filesystem::exists(csv));
  const std::string kept = read_file(journal);
  const std::size_t done = journal_rows(journal);

  // Other flags: refused in words, the journal left as it was.
  const Result other = tg_test::run(dir, shell_words(search_args(csv, "4")) + "--resume", 60);
  CHECK(other.code == 2);
  CHECK(contains(other.err, "was made by a search with --folds 3, this one has --folds 4"));
  CHECK(other.out.empty());  // refused before the setup is printed
  CHECK(read_file(journal) == kept);
  const Result other_seed =
      tg_test::run(dir, shell_words(search_args(csv)) + "--seed 1 --resume", 60);
  CHECK(other_seed.code == 2);
  CHECK(contains(other_seed.err, "--seed 0, this one has --seed 1"));
  // The same flags on other data: the last month's passengers 433 instead of 432.
  std::string changed = read_file(kAirline);
  changed.replace(changed.rfind("432"), 3, "433");
  tg_test::write_file(dir / "changed.csv", changed);
  const Result other_data =
      tg_test::run(dir, shell_words(search_args(csv, "3", dir / "changed.csv")) + "--resume", 60);
  CHECK(other_data.code == 2);
  CHECK(contains(other_data.err, "was made by a search with data X [132,12,1] y [132,1] fnv1a "));
  CHECK(other_data.out.empty());
  CHECK(read_file(journal) == kept);

  const Result resumed = tg_test::run(dir, shell_words(search_args(csv)) + "--resume", 120);
  CAPTURE(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(contains(resumed.out, "Resumed: " + std::to_string(done) + " of 9 fits from "));
  CHECK(contains(resumed.out, "for " + std::to_string(9 - done) + " fits"));
  CHECK(read_file(csv) == read_file(straight_csv));
  CHECK(!std::filesystem::exists(journal));
}

TEST_CASE("tapegrad cv --metrics killed and resumed: the journal keeps the metrics, same cv.csv") {
  ScratchDir dir("cli-cv-resume");
  const std::string straight_csv = dir / "straight.csv", csv = dir / "cv.csv";
  const std::string journal = csv + ".journal";
  const std::string metrics = "--metrics mae,rmse ";

  const Result straight =
      tg_test::run(dir, shell_words(search_args(straight_csv)) + metrics + "--verbose 2", 120);
  CAPTURE(straight.err);
  REQUIRE(straight.code == 0);
  CHECK(contains(straight.out, ", mae "));  // each fit's line shows its metrics

  std::vector<std::string> args = search_args(csv);
  args.insert(args.end(), {"--metrics", "mae,rmse"});
  run_and_kill(dir, args, journal, 2);
  const std::string kept = read_file(journal);
  CHECK(contains(kept, "# --metrics: mae,rmse\n"));
  CHECK(contains(kept, "\ncandidate,units,fold,loss,mae,rmse\n"));

  // Resumed without the metrics the journal holds, or with others: refused in words.
  const Result without = tg_test::run(dir, shell_words(search_args(csv)) + "--resume", 60);
  CHECK(without.code == 2);
  CHECK(contains(without.err,
                 "was made by a search with --metrics mae,rmse, this one has "
                 "--metrics none"));
  CHECK(read_file(journal) == kept);

  const Result resumed =
      tg_test::run(dir, shell_words(search_args(csv)) + metrics + "--resume", 120);
  CAPTURE(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(contains(resumed.out, " of 9 fits from "));
  CHECK(lines_of(read_file(csv))[0] ==
        "name,complexity,fold_0,fold_1,fold_2,mean,std,rank,mean_mae,std_mae,mean_rmse,std_rmse");
  CHECK(read_file(csv) == read_file(straight_csv));
  CHECK(!std::filesystem::exists(journal));
}

#endif  // TAPEGRAD_CLI
