#pragma once

#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace handoff::proxy {

/// Fixed-size memory blocks recycled by one worker thread, so that a busy connection does not
/// call malloc per request and an idle one holds no block at all.
class BufferPool {
 public:
  /// Blocks are `block_size` bytes; at most `max_free` are kept for reuse.
  BufferPool(std::size_t block_size, std::size_t max_free)
      : block_size_(block_size), max_free_(max_free) {}

  /// Size of every block.
  [[nodiscard]] std::size_t block_size() const { return block_size_; }

  /// A block, recycled when one is free.
  std::unique_ptr<char[]> get() {
    if (free_.empty()) {
      return std::unique_ptr<char[]>(new char[block_size_]);
    }
    std::unique_ptr<char[]> block = std::move(free_.back());
    free_.pop_back();
    return block;
  }

  /// Returns a block for reuse.
  void put(std::unique_ptr<char[]> block) {
    if (free_.size() < max_free_) {
      free_.push_back(std::move(block));
    }
  }

 private:
  std::size_t block_size_;
  std::size_t max_free_;
  std::vector<std::unique_ptr<char[]>> free_;
};

/// A byte queue over one pooled block: bytes are read in at the end and consumed at the front.
class Buffer {
 public:
  /// An unallocated buffer that takes its block from `pool` when first needed.
  explicit Buffer(BufferPool& pool) : pool_(&pool) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  /// Makes sure a block is held.
  void acquire() {
    if (!block_) {
      block_ = pool_->get();
    }
  }
  /// Gives the block back when no bytes are queued (idle connections hold no memory).
  void release() {
    if (block_ && begin_ == end_) {
      pool_->put(std::move(block_));
      begin_ = end_ = 0;
    }
  }

  /// The queued bytes.
  [[nodiscard]] std::string_view view() const {
    return block_ ? std::string_view(block_.get() + begin_, end_ - begin_) : std::string_view{};
  }
  /// Number of queued bytes.
  [[nodiscard]] std::size_t size() const { return end_ - begin_; }
  /// Whether no bytes are queued.
  [[nodiscard]] bool empty() const { return begin_ == end_; }

  /// Free space to read into (moves queued bytes to the front first when that helps).
  boost::asio::mutable_buffer prepare() {
    acquire();
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (end_ == pool_->block_size() && begin_ > 0) {
      std::memmove(block_.get(), block_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    return boost::asio::buffer(block_.get() + end_, pool_->block_size() - end_);
  }
  /// Appends `n` bytes that were read into `prepare()`'s space.
  void commit(std::size_t n) { end_ += n; }
  /// Drops `n` bytes from the front.
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
    }
  }

 private:
  BufferPool* pool_;
  std::unique_ptr<char[]> block_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace handoff::proxy
