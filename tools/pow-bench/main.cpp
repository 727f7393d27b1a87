// pow-bench: what the proof of work (SPEC §8, docs/pow.md) costs, for bench 9 (bench/README.md):
// the server's CPU per join with and without a proof, and the CPU a client spends on places.
// A client written here, not the server's code: it solves with OpenSSL SHA-256 on one core, as
// a native bot would (the prefix "challenge:" hashed once, then one more block per nonce).
//
//   pow-bench prepare --url URL --queue Q --n N --out FILE [--conns 4] [--server-pid PID]
//       Fetches N challenges (GET /v1/queues/Q/challenge, K keep-alive connections), solves
//       each and writes one join body per line: {"pow":{"challenge":"...","nonce":"..."}}.
//       With --server-pid: the server's CPU time over the fetches, per challenge.
//   pow-bench joins --url URL --queue Q (--bodies FILE | --n N) [--conns 50] [--server-pid PID]
//       POST /v1/queues/Q/tickets once per body line (or N times with no body) on K keep-alive
//       connections, each sending its next join when the last one is answered. Every answer
//       must be 201 (a refusal ends the run with an error). With --server-pid: the server's
//       process CPU clock (all its threads, ns) over the run, per join.
//   pow-bench client --url URL --queue Q --places N [--max-cpu-s S]
//       A bot on one core and one connection: per place, GET a challenge, solve it, POST the
//       join with the proof. Stops after N places, or after the place during which its CPU time
//       passed S. Reports its CPU seconds (getrusage), the hashes tried, the solving rate, and
//       for 1,000 places: the measured CPU scaled from the places done, and the expected CPU
//       1000 * 2^bits / rate (a place takes 2^bits tries on average: each try succeeds with
//       probability 2^-bits).
//
// The last line of output is machine-readable: `RESULT mode=... key=value ...`.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_CTX: copying the midstate is the fast solver
#include <openssl/sha.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "pow-bench: %s\n", msg.c_str());
  std::exit(1);
}

// ---- options ----

struct Options {
  std::string mode;
  std::map<std::string, std::string> kv;
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  std::string need(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end()) die("missing --" + k);
    return it->second;
  }
  long num(const std::string& k, long def) const {
    auto v = get(k);
    return v.empty() ? def : std::stol(v);
  }
};

Options parse_options(int argc, char** argv) {
  if (argc < 2) die("usage: pow-bench prepare|joins|client [--option value ...] (see main.cpp)");
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) die("bad argument " + a);
    o.kv[a.substr(2)] = argv[++i];
  }
  return o;
}

struct Url {
  std::string host;
  tcp::endpoint ep;
};

Url parse_url(asio::io_context& io, std::string u) {
  if (u.rfind("http://", 0) == 0) u = u.substr(7);
  while (!u.empty() && u.back() == '/') u.pop_back();
  auto c = u.rfind(':');
  if (c == std::string::npos) die("URL needs a port: " + u);
  tcp::resolver res(io);
  return {u, *res.resolve(u.substr(0, c), u.substr(c + 1)).begin()};
}

std::string fmt(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

// ---- clocks ----

double mono_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// The CPU time of a whole process (every thread, live or exited), ns; the kernel's own
// accounting, finer than /proc/PID/stat's clock ticks. -1 without a pid.
int64_t process_cpu_ns(pid_t pid) {
  if (pid <= 0) return -1;
  clockid_t id;
  timespec ts;
  if (clock_getcpuclockid(pid, &id) != 0 || clock_gettime(id, &ts) != 0)
    die("cannot read the CPU clock of process " + std::to_string(pid));
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

double self_rusage_cpu_s() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// ---- the solver ----

int leading_zero_bits(const unsigned char* d) {
  int n = 0;
  for (int i = 0; i < 32; ++i) {
    if (d[i] == 0) {
      n += 8;
      continue;
    }
    return n + __builtin_clz(unsigned(d[i])) - 24;
  }
  return n;
}

struct Solve {
  std::string nonce;
  uint64_t hashes = 0;
  double cpu_s = 0;  // this thread's CPU time spent solving
};

// The first decimal nonce 0, 1, 2, ... whose SHA-256(challenge ":" nonce) has >= bits leading
// zero bits. The challenge and ':' are absorbed once; each try copies that state and hashes the
// nonce (the challenge is longer than one 64-byte block, so most of it is never rehashed).
Solve solve(const std::string& challenge, int bits) {
  double t0 = thread_cpu_s();
  SHA256_CTX base;
  SHA256_Init(&base);
  SHA256_Update(&base, challenge.data(), challenge.size());
  SHA256_Update(&base, ":", 1);
  char buf[24];
  unsigned char d[32];
  Solve s;
  for (uint64_t n = 0;; ++n) {
    auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    SHA256_CTX c = base;
    SHA256_Update(&c, buf, size_t(end - buf));
    SHA256_Final(d, &c);
    if (leading_zero_bits(d) >= bits) {
      s.nonce.assign(buf, end);
      s.hashes = n + 1;
      break;
    }
  }
  s.cpu_s = thread_cpu_s() - t0;
  return s;
}

// ---- HTTP: keep-alive connections, requests written as prepared bytes ----

class Conn {
 public:
  Conn(asio::io_context& io, const Url& u) : url_(u), sock_(io) {}
  awaitable<void> connect() {
    co_await sock_.async_connect(url_.ep, use_awaitable);
    sock_.set_option(tcp::no_delay(true));
  }
  // One request (the raw bytes) and its answer.
  awaitable<bhttp::response<bhttp::string_body>> roundtrip(const std::string& raw) {
    co_await asio::async_write(sock_, asio::buffer(raw), use_awaitable);
    bhttp::response<bhttp::string_body> res;
    co_await bhttp::async_read(sock_, buf_, res, use_awaitable);
    co_return res;
  }
  const Url& url() const { return url_; }

 private:
  const Url& url_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
};

std::string get_request(const Url& u, const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + u.host + "\r\n\r\n";
}

std::string post_request(const Url& u, const std::string& target, const std::string& body) {
  std::string r = "POST " + target + " HTTP/1.1\r\nHost: " + u.host + "\r\n";
  if (!body.empty()) r += "Content-Type: application/json\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

struct Challenge {
  std::string text;
  int bits = 0;
};

Challenge parse_challenge(const bhttp::response<bhttp::string_body>& res) {
  if (res.result_int() != 200)
    die("GET challenge answered " + std::to_string(res.result_int()) + ": " + res.body());
  auto v = json::parse(res.body());
  Challenge c{std::string(v.at("challenge").as_string()), int(v.at("bits").to_number<int64_t>())};
  if (v.at("algorithm").as_string() != "sha256-leading-zero-bits" ||
      v.at("input").as_string() != "challenge:nonce")
    die("a challenge of an unknown kind: " + res.body());
  return c;
}

std::string join_body(const Challenge& c, const std::string& nonce) {
  json::object pow{{"challenge", c.text}, {"nonce", nonce}};
  return json::serialize(json::object{{"pow", std::move(pow)}});
}

// ---- prepare: challenges fetched and solved before a timed run ----

struct Prepare {
  std::string get;  // the raw GET request
  size_t n = 0, next = 0;
  std::vector<std::string> bodies;
  uint64_t hashes = 0;
  int bits = -1;
};

awaitable<void> prepare_worker(Conn& c, Prepare& p) {
  co_await c.connect();
  for (bool more = true; more;) {
    if (p.next >= p.n) break;
    size_t i = p.next++;
    auto res = co_await c.roundtrip(p.get);
    Challenge ch = parse_challenge(res);
    if (p.bits < 0) p.bits = ch.bits;
    if (ch.bits != p.bits) die("the challenges' bits changed during prepare (adaptive on?)");
    Solve s = solve(ch.text, ch.bits);
    p.hashes += s.hashes;
    p.bodies[i] = join_body(ch, s.nonce);
  }
}

void run_prepare(const Options& o) {
  asio::io_context io;
  Url u = parse_url(io, o.need("url"));
  Prepare p;
  p.n = size_t(o.num("n", 0));
  if (p.n == 0) die("--n must be > 0");
  p.get = get_request(u, "/v1/queues/" + o.need("queue") + "/challenge");
  p.bodies.resize(p.n);
  pid_t pid = pid_t(o.num("server-pid", 0));
  std::vector<std::unique_ptr<Conn>> conns;
  for (long i = 0; i < o.num("conns", 4); ++i) {
    conns.push_back(std::make_unique<Conn>(io, u));
    asio::co_spawn(io, prepare_worker(*conns.back(), p), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  int64_t c0 = process_cpu_ns(pid);
  double t0 = mono_s();
  io.run();
  double secs = mono_s() - t0;
  int64_t c1 = process_cpu_ns(pid);
  std::ofstream f(o.need("out"));
  for (const auto& b : p.bodies) f << b << '\n';
  if (!f) die("cannot write " + o.need("out"));
  std::printf("RESULT mode=prepare challenges=%zu bits=%d hashes=%llu seconds=%s", p.n, p.bits,
              (unsigned long long)p.hashes, fmt(secs, 3).c_str());
  if (pid > 0)
    std::printf(" server_cpu_us_per_challenge=%s",
                fmt(double(c1 - c0) / 1e3 / double(p.n)).c_str());
  std::printf("\n");
}

// ---- joins: the timed run ----

struct Joins {
  std::vector<std::string> requests;  // raw POSTs, each sent once
  size_t next = 0, created = 0;
};

awaitable<void> joins_worker(Conn& c, Joins& j) {
  co_await c.connect();
  for (bool more = true; more;) {
    if (j.next >= j.requests.size()) break;
    size_t i = j.next++;
    auto res = co_await c.roundtrip(j.requests[i]);
    // A refusal means the run measured something else than joins: it must not pass.
    if (res.result_int() != 201)
      die("join " + std::to_string(i) + " answered " + std::to_string(res.result_int()) + ": " +
          res.body());
    ++j.created;
  }
}

void run_joins(const Options& o) {
  asio::io_context io;
  Url u = parse_url(io, o.need("url"));
  std::string target = "/v1/queues/" + o.need("queue") + "/tickets";
  Joins j;
  if (!o.get("bodies").empty()) {
    std::ifstream f(o.get("bodies"));
    if (!f) die("cannot read " + o.get("bodies"));
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) j.requests.push_back(post_request(u, target, line));
  } else {
    j.requests.assign(size_t(o.num("n", 0)), post_request(u, target, ""));
  }
  if (j.requests.empty()) die("no joins to send (--bodies FILE or --n N)");
  pid_t pid = pid_t(o.num("server-pid", 0));
  std::vector<std::unique_ptr<Conn>> conns;
  for (long i = 0; i < o.num("conns", 50); ++i) {
    conns.push_back(std::make_unique<Conn>(io, u));
    asio::co_spawn(io, joins_worker(*conns.back(), j), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  int64_t c0 = process_cpu_ns(pid);
  double t0 = mono_s();
  io.run();
  double secs = mono_s() - t0;
  int64_t c1 = process_cpu_ns(pid);
  std::printf("RESULT mode=joins joins=%zu seconds=%s rps=%.0f", j.created, fmt(secs, 3).c_str(),
              double(j.created) / secs);
  if (pid > 0)
    std::printf(" server_cpu_ms=%s cpu_us_per_join=%s", fmt(double(c1 - c0) / 1e6, 1).c_str(),
                fmt(double(c1 - c0) / 1e3 / double(j.created), 3).c_str());
  std::printf("\n");
}

// ---- client: the bot that buys places with CPU ----

struct Client {
  std::string get;
  std::string target;
  long places = 0;
  double max_cpu_s = 0;
  long done = 0;
  uint64_t hashes = 0;
  double solve_cpu_s = 0;
  int bits = -1;
};

awaitable<void> client_run(Conn& c, Client& cl) {
  co_await c.connect();
  for (bool more = true; more;) {
    if (cl.done >= cl.places) break;
    if (cl.max_cpu_s > 0 && self_rusage_cpu_s() >= cl.max_cpu_s) break;
    Challenge ch = parse_challenge(co_await c.roundtrip(cl.get));
    if (cl.bits < 0) cl.bits = ch.bits;
    if (ch.bits != cl.bits) die("the challenges' bits changed (adaptive on?)");
    Solve s = solve(ch.text, ch.bits);
    cl.hashes += s.hashes;
    cl.solve_cpu_s += s.cpu_s;
    auto res = co_await c.roundtrip(post_request(c.url(), cl.target, join_body(ch, s.nonce)));
    if (res.result_int() != 201)
      die("a join with a proof answered " + std::to_string(res.result_int()) + ": " + res.body());
    ++cl.done;
  }
}

void run_client(const Options& o) {
  asio::io_context io;
  Url u = parse_url(io, o.need("url"));
  Client cl;
  cl.get = get_request(u, "/v1/queues/" + o.need("queue") + "/challenge");
  cl.target = "/v1/queues/" + o.need("queue") + "/tickets";
  cl.places = o.num("places", 1000);
  cl.max_cpu_s = std::stod(o.get("max-cpu-s", "0"));
  Conn c(io, u);
  double cpu0 = self_rusage_cpu_s(), t0 = mono_s();
  asio::co_spawn(io, client_run(c, cl), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  double cpu = self_rusage_cpu_s() - cpu0, secs = mono_s() - t0;
  if (cl.done == 0) die("no place was bought");
  double rate = double(cl.hashes) / cl.solve_cpu_s;
  std::printf(
      "RESULT mode=client bits=%d places=%ld cpu_s=%s seconds=%s hashes=%llu "
      "hashes_per_place=%.0f hashes_per_s=%.0f cpu_s_per_1000=%s expected_cpu_s_per_1000=%s\n",
      cl.bits, cl.done, fmt(cpu, 3).c_str(), fmt(secs, 3).c_str(), (unsigned long long)cl.hashes,
      double(cl.hashes) / double(cl.done), rate, fmt(cpu / double(cl.done) * 1000, 2).c_str(),
      fmt(1000.0 * std::ldexp(1.0, cl.bits) / rate, 2).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  try {
    if (o.mode == "prepare") {
      run_prepare(o);
    } else if (o.mode == "joins") {
      run_joins(o);
    } else if (o.mode == "client") {
      run_client(o);
    } else {
      die("unknown mode " + o.mode);
    }
  } catch (const std::exception& e) {
    die(e.what());
  }
  return 0;
}
