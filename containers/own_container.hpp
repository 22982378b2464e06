#pragma once

#include <string>
#include <string_view>

namespace handoff::containers {

/// The id of the container this process runs in, from the mounts Docker makes for every
/// container (its resolv.conf, hostname and hosts files live under
/// `/var/lib/docker/containers/ID/`); $HANDOFF_CONTAINER_ID wins when set. Empty when this
/// process is not in a Docker container.
std::string own_container_id();

/// The container this process is the front of: its own container when it is that container's
/// PID 1 (the image's entrypoint), else "" (handoff runs as a process, perhaps inside some
/// other container, which an upgrade must leave alone).
std::string front_container_id();

/// The container id found in the text of a /proc/PID/mountinfo ("" when none).
std::string container_id_from_mountinfo(std::string_view mountinfo);

}  // namespace handoff::containers
