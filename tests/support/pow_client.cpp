#include "support/pow_client.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <chrono>

namespace anteroom::testing {

namespace json = boost::json;

int PowZeroBits(std::string_view challenge, std::string_view nonce) {
  std::string input;
  input.reserve(challenge.size() + 1 + nonce.size());
  input.append(challenge).append(":").append(nonce);
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), d);
  int bits = 0;
  for (unsigned char byte : d) {
    if (byte == 0) {
      bits += 8;
      continue;
    }
    for (int b = 7; b >= 0 && !(byte >> b & 1); --b) ++bits;
    break;
  }
  return bits;
}

std::string PowSolve(std::string_view challenge, int bits, long* hashes) {
  for (long n = 0;; ++n) {
    std::string nonce = std::to_string(n);
    if (PowZeroBits(challenge, nonce) >= bits) {
      if (hashes) *hashes = n + 1;
      return nonce;
    }
  }
}

std::string PowSolveShort(std::string_view challenge, int bits) {
  for (long n = 0;; ++n) {
    std::string nonce = std::to_string(n);
    if (PowZeroBits(challenge, nonce) < bits) return nonce;
  }
}

namespace {
std::string Hmac(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}
}  // namespace

std::string Base64Url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string PowKey(std::string_view secret) { return Hmac(secret, "anteroom-pow-key-v1"); }

std::string PowSign(std::string_view key, std::string_view queue, int bits, long long expires_ms,
                    std::string_view id) {
  std::string body = "pow1." + std::string(queue) + "." + std::to_string(bits) + "." +
                     std::to_string(expires_ms) + "." + std::string(id);
  return body + "." + Base64Url(Hmac(key, body).substr(0, 16));
}

json::object PowField(std::string_view challenge, std::string_view nonce) {
  return json::object{{"challenge", challenge}, {"nonce", nonce}};
}

json::object PowJoinBody(std::string_view challenge, std::string_view nonce,
                         std::string_view user) {
  json::object body{{"pow", PowField(challenge, nonce)}};
  if (!user.empty()) body["user"] = user;
  return body;
}

HttpResponse GetChallenge(const AnteroomProcess& p, std::string_view queue,
                          const Headers& headers) {
  return p.Request("GET", "/v1/queues/" + std::string(queue) + "/challenge", headers);
}

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace anteroom::testing
