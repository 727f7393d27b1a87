#include "hub/coalescer.hpp"

namespace anteroom {

void CoalescedPosition::update(int64_t position, std::string frame) {
  position_ = position;
  frame_ = std::move(frame);
  pending_ = true;
}

void CoalescedPosition::sent_now(int64_t position, std::string frame, Clock::time_point now) {
  position_ = position;
  frame_ = std::move(frame);
  pending_ = false;
  sent_ = now;
}

bool CoalescedPosition::drain(std::string& out, const CoalescingRule& rule, Clock::time_point now) {
  if (!pending_) return false;
  if (position_ > rule.near_position && now - sent_ < rule.far_interval) return true;
  out += frame_;
  pending_ = false;
  sent_ = now;
  return false;
}

}  // namespace anteroom
