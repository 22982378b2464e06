// Finding the container handoff runs in, and the body of the container that succeeds it.
#include "containers/own_container.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>

#include "control/upgrade/successor_container.hpp"

using namespace handoff;
namespace json = boost::json;

TEST_CASE("the container id comes from the files Docker mounts into every container") {
  const std::string id(64, 'a');
  const std::string mountinfo =
      "22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X\n"
      "23 22 8:1 /var/lib/docker/containers/" +
      id +
      "/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/sda1 rw\n"
      "24 22 8:1 /var/lib/docker/containers/" +
      id + "/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n";
  CHECK(containers::container_id_from_mountinfo(mountinfo) == id);
  // Not a container: no such mount; a short or non-hex name is not an id.
  CHECK(containers::container_id_from_mountinfo("22 1 0:21 / / rw - ext4 /dev/sda1 rw\n").empty());
  CHECK(containers::container_id_from_mountinfo("/containers/abc/hostname").empty());
  CHECK(containers::container_id_from_mountinfo("/containers/" + std::string(64, 'g') + "/x")
            .empty());
}

TEST_CASE("the successor container is the running one with the new image and --takeover") {
  const json::object inspected = json::parse(R"({
    "Name": "/front",
    "Config": {"Hostname": "host1", "Domainname": "", "Image": "handoff:1",
               "Cmd": ["run", "--listen", "0.0.0.0:80", "--takeover"],
               "Env": ["PATH=/usr/local/bin", "HANDOFF_TAKEOVER_TOKEN=old"],
               "Labels": {"team": "web"}, "Entrypoint": ["/usr/local/bin/handoff"]},
    "HostConfig": {"NetworkMode": "host", "RestartPolicy": {"Name": "unless-stopped"},
                   "Binds": ["/var/run/docker.sock:/var/run/docker.sock", "st:/var/lib/handoff"]},
    "Mounts": [
      {"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"},
      {"Type": "volume", "Name": "st", "Destination": "/var/lib/handoff"},
      {"Type": "volume", "Name": "0123abcd", "Destination": "/run/handoff"}]
  })")
                                     .as_object();
  const json::object body = control::successor_container_body(inspected, "handoff:2", "tok");
  CHECK(body.at("Image") == "handoff:2");
  CHECK_FALSE(body.contains("Hostname"));
  CHECK(body.at("Cmd") == json::array{"run", "--listen", "0.0.0.0:80", "--takeover"});
  CHECK(body.at("Env") == json::array{"PATH=/usr/local/bin", "HANDOFF_TAKEOVER_TOKEN=tok"});
  CHECK(body.at("Labels") == json::object{{"team", "web"}});
  CHECK(body.at("Entrypoint") == json::array{"/usr/local/bin/handoff"});
  const json::object& host = body.at("HostConfig").as_object();
  CHECK(host.at("NetworkMode") == "host");
  CHECK(host.at("RestartPolicy").at("Name") == "unless-stopped");
  // The anonymous volume under /run/handoff is shared by name; the named one was bound already.
  CHECK(host.at("Binds") == json::array{"/var/run/docker.sock:/var/run/docker.sock",
                                        "st:/var/lib/handoff", "0123abcd:/run/handoff"});
}
