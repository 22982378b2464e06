#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace handoff::control {

/// The whole contents of a file a user named, e.g. a certificate; throws std::invalid_argument
/// naming `what` (such as "--tls-cert"), the path and the reason when it cannot be read.
std::string read_text_file(const std::string& path, std::string_view what);

/// Writes `data` to `path` (created or truncated), readable by its owner only (mode 0600, also
/// for a file that existed before: it may hold private keys), and fsyncs it. Throws
/// std::runtime_error naming the file.
void write_private_file(const std::filesystem::path& path, const std::string& data);

/// Replaces `path` with `data` durably, so that a crash leaves the old file or the new one and
/// never a part: a temp file beside it (`.NAME.tmp`), fsync, rename, fsync of the directory.
/// When the rename fails with EBUSY or EXDEV (the file is itself bind-mounted), it is
/// rewritten in place instead. Mode 0600, as write_private_file. Throws std::runtime_error.
void replace_private_file(const std::filesystem::path& path, const std::string& data);

}  // namespace handoff::control
