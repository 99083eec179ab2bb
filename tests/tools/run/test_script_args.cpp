#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tg = tapegrad;

namespace {

// The options of a typical script, one of each kind, with their defaults.
struct Script {
  int epochs = 100;
  int64_t units = 16;
  std::uint64_t seed = 7;
  double lr = 0.005;
  std::string out = "forecast.svg";
  std::string target = "change";
  std::vector<int64_t> sizes = {4, 8, 16};
  bool quick = false;
  tg::tools::ScriptArgs args{"demo", "Trains a demo model."};

  Script() {
    args.option("--epochs", epochs, "epochs to train").range(1, 1000);
    args.option("--units", units, "LSTM units");
    args.option("--seed", seed, "random seed");
    args.option("--lr", lr, "learning rate").range(1e-9, 10.0);
    args.option("--out", out, "chart path").value_name("CHART").check(tg::tools::check_chart_path);
    args.option("--target", target, "what to predict").one_of({"change", "level"});
    args.option("--sizes", sizes, "sizes to compare").range(1, 4096);
    args.flag("--quick", quick, "a short run");
  }

  // parse over {"demo", words...}; `printed` gets what parse would print.
  std::optional<int> parse(std::vector<std::string> words, std::string& printed) {
    words.insert(words.begin(), "demo");
    std::vector<const char*> argv;
    for (const std::string& w : words) argv.push_back(w.c_str());
    return args.parse(static_cast<int>(argv.size()), argv.data(), printed);
  }

  // The first line of what a bad command line prints (the usage follows it).
  std::string mistake(std::vector<std::string> words) {
    std::string printed;
    const std::optional<int> code = parse(std::move(words), printed);
    REQUIRE(code == 2);
    CHECK(printed.find("usage: demo") != std::string::npos);
    return printed.substr(0, printed.find('\n'));
  }
};

}  // namespace

TEST_CASE("ScriptArgs: with no arguments every default is kept and the script goes on") {
  Script s;
  std::string printed = "stale";
  CHECK(s.parse({}, printed) == std::nullopt);
  CHECK(printed.empty());
  CHECK(s.epochs == 100);
  CHECK(s.units == 16);
  CHECK(s.seed == 7);
  CHECK(s.lr == 0.005);
  CHECK(s.out == "forecast.svg");
  CHECK(s.target == "change");
  CHECK(s.sizes == std::vector<int64_t>{4, 8, 16});
  CHECK_FALSE(s.quick);
}

TEST_CASE("ScriptArgs: every type is read, as --name VALUE and as --name=VALUE") {
  Script s;
  std::string printed;
  CHECK(s.parse({"--epochs", "12", "--units=-3", "--seed", "18446744073709551615", "--lr=1e-3",
                 "--out", "a.png", "--target=level", "--sizes", " 2, 32 ,64", "--quick"},
                printed) == std::nullopt);
  CHECK(s.epochs == 12);
  CHECK(s.units == -3);
  CHECK(s.seed == UINT64_MAX);
  CHECK(s.lr == 1e-3);
  CHECK(s.out == "a.png");
  CHECK(s.target == "level");
  CHECK(s.sizes == std::vector<int64_t>{2, 32, 64});
  CHECK(s.quick);
}

TEST_CASE("ScriptArgs: a later occurrence wins, and a value may start with '-'") {
  Script s;
  std::string printed;
  CHECK(s.parse({"--units", "4", "--units", "-8"}, printed) == std::nullopt);
  CHECK(s.units == -8);
}

TEST_CASE("ScriptArgs: --help prints the usage with every default, and exit code 0") {
  for (const char* help : {"--help", "-h"}) {
    Script s;
    std::string printed;
    CHECK(s.parse({"--epochs", "3", help, "--bogus"}, printed) == 0);
    CHECK(printed == s.args.usage());
  }
  const std::string usage = Script().args.usage();
  CHECK(usage ==
        "usage: demo [--epochs N] [--units N] [--seed N] [--lr X] [--out CHART] [--target "
        "change|level]\n"
        "            [--sizes N,N,...] [--quick]\n"
        "Trains a demo model.\n"
        "  --epochs N             epochs to train (default 100)\n"
        "  --units N              LSTM units (default 16)\n"
        "  --seed N               random seed (default 7)\n"
        "  --lr X                 learning rate (default 0.005)\n"
        "  --out CHART            chart path (default forecast.svg)\n"
        "  --target change|level  what to predict (default change)\n"
        "  --sizes N,N,...        sizes to compare (default 4,8,16)\n"
        "  --quick                a short run\n"
        "  -h, --help             print this help and exit\n");
}

TEST_CASE("ScriptArgs: a long help text wraps into its column, never inside \"(default X)\"") {
  std::string path;
  int n = 12345;
  tg::tools::ScriptArgs args("demo");
  const std::string a(30, 'a'), b(30, 'b'), c(30, 'c'), d(40, 'd');
  args.option("--csv", path, a + " " + b + " " + c);  // an empty default is not shown
  args.option("--n", n, a + " " + d);
  CHECK(args.usage() == fmt::format("usage: demo [--csv TEXT] [--n N]\n"
                                    "  --csv TEXT  {} {}\n"
                                    "              {}\n"
                                    "  --n N       {} {}\n"
                                    "              (default 12345)\n"
                                    "  -h, --help  print this help and exit\n",
                                    a, b, c, a, d));
}

TEST_CASE("ScriptArgs: unknown options, stray words and missing values are named") {
  Script s;
  CHECK(s.mistake({"--epoch", "3"}) == "demo: unknown option '--epoch'");
  CHECK(s.mistake({"--epoch=3"}) == "demo: unknown option '--epoch'");
  CHECK(s.mistake({"3"}) == "demo: unexpected argument '3'");
  CHECK(s.mistake({"--seed", "1", "--epochs"}) == "demo: --epochs needs a value");
  CHECK(s.mistake({"--quick=yes"}) == "demo: --quick takes no value");
}

TEST_CASE("ScriptArgs: only whole numbers of the option's type are accepted") {
  Script s;
  CHECK(s.mistake({"--epochs", "12x"}) ==
        "demo: bad value '12x' for --epochs: expected an integer");
  CHECK(s.mistake({"--epochs", ""}) == "demo: bad value '' for --epochs: expected an integer");
  CHECK(s.mistake({"--epochs", " 12"}) ==
        "demo: bad value ' 12' for --epochs: expected an integer");
  CHECK(s.mistake({"--epochs", "1.5"}) ==
        "demo: bad value '1.5' for --epochs: expected an integer");
  CHECK(s.mistake({"--seed", "-1"}) == "demo: bad value '-1' for --seed: expected an integer >= 0");
  CHECK(s.mistake({"--units", "99999999999999999999"}) ==
        "demo: bad value '99999999999999999999' for --units: expected an integer from "
        "-9223372036854775808 to 9223372036854775807");
  CHECK(s.mistake({"--lr", "fast"}) == "demo: bad value 'fast' for --lr: expected a finite number");
  CHECK(s.mistake({"--lr", "inf"}) == "demo: bad value 'inf' for --lr: expected a finite number");
  CHECK(s.mistake({"--lr=0.1x"}) == "demo: bad value '0.1x' for --lr: expected a finite number");
}

TEST_CASE("ScriptArgs: ranges, choices and checks refuse a value and keep the default") {
  Script s;
  CHECK(s.mistake({"--epochs", "0"}) ==
        "demo: bad value '0' for --epochs: expected a value from 1 to 1000");
  CHECK(s.mistake({"--epochs=1001"}) ==
        "demo: bad value '1001' for --epochs: expected a value from 1 to 1000");
  CHECK(s.mistake({"--lr", "20"}) ==
        "demo: bad value '20' for --lr: expected a value from 1e-09 to 10");
  CHECK(s.mistake({"--target", "trend"}) ==
        "demo: bad value 'trend' for --target: expected one of change, level");
  CHECK(s.mistake({"--out", "chart.txt"})
            .starts_with("demo: bad value 'chart.txt' for --out: write_line_chart: 'chart.txt': "
                         "unknown chart extension"));
  CHECK(s.mistake({"--out", ""}) == "demo: bad value '' for --out: expected a non-empty value");
  CHECK(s.epochs == 100);
  CHECK(s.lr == 0.005);
  CHECK(s.out == "forecast.svg");
  CHECK(s.target == "change");
}

TEST_CASE("ScriptArgs: a list names its bad item; empty items are mistakes") {
  Script s;
  CHECK(s.mistake({"--sizes", ""}) ==
        "demo: bad value '' for --sizes: expected a comma list of integers such as 4,8,16");
  CHECK(s.mistake({"--sizes", "4,,8"}) == "demo: bad value '4,,8' for --sizes: item 2 is empty");
  CHECK(s.mistake({"--sizes", "4,8,"}) == "demo: bad value '4,8,' for --sizes: item 3 is empty");
  CHECK(s.mistake({"--sizes", "4,x"}) ==
        "demo: bad value '4,x' for --sizes: item 2 ('x'): expected an integer");
  CHECK(s.mistake({"--sizes", "4,0"}) ==
        "demo: bad value '4,0' for --sizes: item 2 (0): expected a value from 1 to 4096");
  CHECK(s.sizes == std::vector<int64_t>{4, 8, 16});
}

TEST_CASE("ScriptArgs: the script's own mistakes throw ValueError at once") {
  tg::tools::ScriptArgs args("demo");
  int n = 5, m = 0;
  bool b = false;
  std::string word = "a";
  args.option("--n", n, "a number");
  CHECK_THROWS_WITH_AS(args.option("--n", m, "again"),
                       "ScriptArgs: option --n of demo is registered twice", tg::ValueError);
  CHECK_THROWS_WITH_AS(args.flag("--n", b, "again"),
                       "ScriptArgs: option --n of demo is registered twice", tg::ValueError);
  CHECK_THROWS_WITH_AS(args.option("-m", m, "short"),
                       "ScriptArgs: option name '-m' must be --word (no '=')", tg::ValueError);
  CHECK_THROWS_WITH_AS(args.option("--m=1", m, "with ="),
                       "ScriptArgs: option name '--m=1' must be --word (no '=')", tg::ValueError);
  CHECK_THROWS_WITH_AS(args.flag("--help", b, "mine"),
                       "ScriptArgs: --help is built in (it prints the usage)", tg::ValueError);
  CHECK_THROWS_WITH_AS(args.option("--m", m, "a count").range(1, 10),
                       "ScriptOption::range: the default 0 of --m is outside [1, 10]; widen the "
                       "range or change the default",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(args.option("--word", word, "a word").one_of({"b", "c"}),
                       "ScriptOption::one_of: the default 'a' of --word is not one of b, c",
                       tg::ValueError);
}
