// The on-sale draw (anteroom-draw-v1, docs/draw.md) recomputed by the tests from outside, with
// OpenSSL and none of the server's code: a second, independent implementation of the published
// function, so an e2e test checks the server against the documentation, not against itself.
// Also: downloading a queue's /draw pages as a visitor would, and the one-document form that
// `tools/verify-draw --file` reads.
//
// Pure functions are thread-safe; DownloadDraw makes HTTP requests (one thread per call) and
// records a GoogleTest failure on an answer that is not a drawn page.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"

namespace anteroom::testing {

inline constexpr std::string_view kDrawAlgorithm = "anteroom-draw-v1";

// Lowercase hex of bytes, and back (throws std::invalid_argument on odd length or non-hex).
std::string ToHex(std::string_view bytes);
std::string FromHex(std::string_view hex);

// base64url (no padding) of the first 16 bytes of SHA-256("anteroom-entry-v1:" + ticket).
std::string EntryId(std::string_view ticket);
// Lowercase hex of SHA-256 of the raw seed bytes.
std::string Commitment(std::string_view seed);
// HMAC-SHA256(key = raw seed bytes, message = entry id): 32 raw bytes.
std::string DrawKey(std::string_view seed, std::string_view entry_id);
// The entry ids in draw order: by key as unsigned bytes, ties by entry id.
std::vector<std::string> DrawOrder(std::string_view seed, std::vector<std::string> entry_ids);

// A whole draw as published: the first page's fields, with every page's entries in order.
struct PublishedDraw {
  boost::json::object fields;        // the first page, its "entries" and "next" removed
  std::vector<std::string> entries;  // place p is entries[p - 1]
  int pages = 0;
};
// GET /v1/queues/{q}/draw on `server` (e.g. AnteroomProcess::http()) and every page after it,
// following "next" (a path, or a full URL to the same server). Records a failure and returns
// what it has on a non-200 answer, a page out of sequence ("after" not the number of entries
// read so far) or more than 1000 pages.
PublishedDraw DownloadDraw(const HttpClient& server, std::string_view queue);
// The form `verify-draw --file` reads: the first page with every entry in one "entries" list.
std::string DrawDocument(const PublishedDraw& draw);

}  // namespace anteroom::testing
