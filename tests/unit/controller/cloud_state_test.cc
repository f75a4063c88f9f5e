// CloudState's two durability promises, checked through the public services: agents are handed
// only durable records (a WatchDesired answer never carries an instance whose commit has not
// reached the disk), and a failed durable write stops the controller (it aborts after logging
// the critical line; what the disk refused is not there after a restart).
#include "controller/service/cloud_state.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "controller/identity/cloud_identity_signer.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/cache_blob_store.h"
#include "controller/service/compute_service.h"
#include "controller/service/fleet_service.h"
#include "controller/service/image_service.h"
#include "controller/store/rocksdb_store.h"
#include "tests/testing/controller_fixture.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::controller {
namespace {

using minicloud::testing::TempDir;

// A Store over a real one whose Commit can be held at a gate until the test opens it, or made to
// fail. Reads always go to the real store (what a restart would load).
class GatedStore : public Store {
 public:
  explicit GatedStore(Store& inner) : inner_(inner) {}

  absl::StatusOr<std::optional<std::string>> Get(Table t, absl::string_view key) override {
    return inner_.Get(t, key);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(Table t) override {
    return inner_.Scan(t);
  }
  absl::Status Commit(const WriteBatch& batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --waiting_;
    if (!fail_.ok()) return fail_;
    return inner_.Commit(batch);
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void FailWith(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = std::move(s);
  }
  // Waits until a commit is held at the closed gate.
  bool AwaitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return waiting_ > 0; });
  }

 private:
  Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
  absl::Status fail_;
};

// The controller's services over a GatedStore in front of RocksDB.
struct GatedController {
  explicit GatedController(const std::string& dir) : dir(dir) {
    rocks = std::move(*RocksDbStore::Open(dir + "/db"));
    gate = std::make_unique<GatedStore>(*rocks);
    blobs = std::move(*CacheBlobStore::Open(dir + "/blobs"));
    state = std::make_unique<CloudState>(*gate, ControllerConfig());
    REQUIRE(state->Load(clock.Now()).ok());
    signer = std::move(*CloudIdentitySigner::Open(dir + "/identity", clock));
    compute = std::make_unique<ComputeService>(*state, clock, ids, scheduler, agents);
    images = std::make_unique<ImageService>(*state, clock, ids, *blobs);
    fleet = std::make_unique<FleetService>(*state, clock, ids, *signer);
  }

  std::string AddHost(const std::string& az = "home-1a") {
    v1::RegisterHostRequest req;
    req.set_hostname("host");
    req.set_endpoint("agent:1");
    req.mutable_topology()->set_region("home-1");
    req.mutable_topology()->set_availability_zone(az);
    req.mutable_topology()->set_rack("rack-1");
    req.mutable_capacity()->set_vcpus(8);
    req.mutable_capacity()->set_memory_mib(16384);
    auto resp = fleet->RegisterHost(req);
    REQUIRE(resp.ok());
    return resp->host_id();
  }
  std::string RegisterImage() {
    const std::string file = dir + "/ami.qcow2";
    REQUIRE(std::system(absl::StrCat("qemu-img create -q -f qcow2 ", file, " 64M").c_str()) == 0);
    v1::RegisterImageRequest req;
    req.set_name("ami");
    auto resp = testing::UploadImage(*images, req, testing::ReadFileBytes(file));
    REQUIRE(resp.ok());
    return resp->image_id();
  }
  v1::RunInstancesRequest Run(const std::string& image) {
    v1::RunInstancesRequest req;
    req.set_image_id(image);
    req.set_instance_type("t3.micro");
    req.set_min_count(1);
    req.set_max_count(1);
    return req;
  }
  absl::StatusOr<v1::DesiredState> Watch(const std::string& host, uint64_t known, int wait_ms) {
    v1::WatchDesiredRequest req;
    req.set_host_id(host);
    req.set_known_generation(known);
    req.set_max_wait_ms(wait_ms);
    return fleet->WatchDesired(req);
  }
  // The one instance in the mirror that is not on disk yet ("" when none); read under the lock
  // without waiting for durability, as only the state itself may.
  std::string StagedInstance() {
    std::lock_guard<std::mutex> lock(state->mu());
    std::string staged;
    for (const auto& [id, r] : state->instances()) {
      if (!OnDisk(id)) staged = id;
    }
    return staged;
  }
  // Instances in the mirror that are not on disk yet.
  int StagedCount() {
    std::lock_guard<std::mutex> lock(state->mu());
    int n = 0;
    for (const auto& [id, r] : state->instances()) n += !OnDisk(id);
    return n;
  }
  uint64_t Generation(const std::string& host) {
    std::lock_guard<std::mutex> lock(state->mu());
    return state->GenerationLocked(host);
  }
  bool OnDisk(const std::string& instance_id) {
    auto got = rocks->Get(Table::kInstances, instance_id);
    return got.ok() && got->has_value();
  }

  std::string dir;
  FakeClock clock;
  IdGenerator ids{11};
  scheduler::SpreadScheduler scheduler;
  minicloud::testing::FakeAgentClient agents;
  std::unique_ptr<RocksDbStore> rocks;
  std::unique_ptr<GatedStore> gate;
  std::unique_ptr<CacheBlobStore> blobs;
  std::unique_ptr<CloudState> state;
  std::unique_ptr<CloudIdentitySigner> signer;
  std::unique_ptr<ComputeService> compute;
  std::unique_ptr<ImageService> images;
  std::unique_ptr<FleetService> fleet;
};

// What a child process left behind: how it ended and everything it wrote.
struct ChildResult {
  int wait_status = 0;
  std::string output;
};

// Runs `body` in a forked child with stdout and stderr going to a file; waits for it.
ChildResult RunInChild(const std::string& dir, const std::function<void()>& body) {
  const std::string log = dir + "/child.log";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) std::_Exit(120);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    try {
      body();
    } catch (...) {
      std::_Exit(121);  // a REQUIRE failed in the child: never return into the test runner
    }
    std::fflush(nullptr);
    std::_Exit(0);
  }
  ChildResult r;
  REQUIRE(::waitpid(pid, &r.wait_status, 0) == pid);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

bool Aborted(const ChildResult& r) {
  return WIFSIGNALED(r.wait_status) && WTERMSIG(r.wait_status) == SIGABRT;
}

constexpr char kCriticalLine[] = "durable write to the controller store failed, stopping";

}  // namespace

TEST_CASE("WatchDesired never hands out an instance whose commit is not durable",
          "[controller][cloud_state]") {
  TempDir dir;
  GatedController c(dir.path());
  const std::string host = c.AddHost();
  const std::string image = c.RegisterImage();
  auto before = c.Watch(host, 0, 0);
  REQUIRE(before.ok());
  REQUIRE(before->instances_size() == 0);
  const uint64_t known = before->generation();

  // RunInstances stages its instance and waits for the disk, which is held.
  c.gate->Close();
  auto launch =
      std::async(std::launch::async, [&] { return c.compute->RunInstances(c.Run(image)); });
  REQUIRE(c.gate->AwaitHeld());
  // The staged record is in the mirror (the next decision sees it) but not on disk.
  const std::string id = c.StagedInstance();
  REQUIRE_FALSE(id.empty());
  REQUIRE_FALSE(c.OnDisk(id));
  {
    // The host's desired-state generation is not bumped for a staged change.
    std::lock_guard<std::mutex> lock(c.state->mu());
    CHECK(c.state->host_runtime().at(host).generation == known);
  }

  // An agent asking now (long-poll with nothing new, or an immediate answer) must not get the
  // instance before it is durable. Each answer is checked against the disk when it arrives.
  struct Answer {
    bool ok = false;
    bool has_instance = false;
    bool on_disk_when_answered = false;
  };
  auto ask = [&](uint64_t known_generation, int wait_ms) {
    return std::async(std::launch::async, [&, known_generation, wait_ms] {
      Answer a;
      auto d = c.Watch(host, known_generation, wait_ms);
      a.ok = d.ok();
      if (d.ok()) {
        for (const auto& i : d->instances())
          a.has_instance = a.has_instance || i.instance_id() == id;
      }
      a.on_disk_when_answered = c.OnDisk(id);
      return a;
    });
  };
  auto immediate = ask(known, 0);
  auto long_poll = ask(known, 30'000);
  // Give a wrong implementation the chance to answer from the staged mirror before the disk
  // has the record (a correct one stays blocked until the gate opens).
  immediate.wait_for(std::chrono::milliseconds(500));
  CHECK_FALSE(launch.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  c.gate->Open();

  auto reservation = launch.get();
  REQUIRE(reservation.ok());
  for (auto* f : {&immediate, &long_poll}) {
    const Answer a = f->get();
    CHECK(a.ok);
    CHECK(a.has_instance);           // once durable, the agent does get it ...
    CHECK(a.on_disk_when_answered);  // ... and never before
  }
  auto after = c.Watch(host, known, 0);
  REQUIRE(after.ok());
  CHECK(after->generation() > known);
}

TEST_CASE("the API shows a launched instance only once its commit is durable",
          "[controller][cloud_state]") {
  // Each reader runs while RunInstances' commit is held at the gate; a helper opens the gate a
  // little later. A reader that answers from the staged mirror answers before the gate opens,
  // showing the instance while it is not on disk; a correct one answers only after.
  struct Reader {
    const char* name;
    // Calls the API; true when the answer shows instance `id` (or its use of the host).
    std::function<bool(GatedController&, const std::string& id)> shows;
  };
  const Reader readers[] = {
      {"DescribeInstances",
       [](GatedController& c, const std::string& id) {
         auto d = c.compute->DescribeInstances({});
         REQUIRE(d.ok());
         for (const auto& res : d->reservations()) {
           for (const auto& i : res.instances()) {
             if (i.instance_id() == id) return true;
           }
         }
         return false;
       }},
      {"DescribeInstances by id",
       [](GatedController& c, const std::string& id) {
         v1::DescribeInstancesRequest req;
         req.add_instance_ids(id);
         return c.compute->DescribeInstances(req).ok();
       }},
      {"DescribeHosts (capacity used)",
       [](GatedController& c, const std::string&) {
         auto d = c.compute->DescribeHosts({});
         REQUIRE(d.ok());
         REQUIRE(d->hosts_size() == 1);
         return d->hosts(0).used().vcpus() > 0 && d->hosts(0).instance_count() == 1;
       }},
      {"DescribeInstanceAttribute",
       [](GatedController& c, const std::string& id) {
         v1::DescribeInstanceAttributeRequest req;
         req.set_instance_id(id);
         req.set_attribute("userData");
         return c.compute->DescribeInstanceAttribute(req).ok();
       }},
      {"GetConsoleOutput",
       [](GatedController& c, const std::string& id) {
         v1::GetConsoleOutputRequest req;
         req.set_instance_id(id);
         // No agent answers here: any answer but "not found" shows the instance exists.
         return c.compute->GetConsoleOutput(req).status().code() != absl::StatusCode::kNotFound;
       }},
  };
  for (const Reader& reader : readers) {
    INFO(reader.name);
    TempDir dir;
    GatedController c(dir.path());
    c.AddHost();
    const std::string image = c.RegisterImage();
    c.gate->Close();
    auto launch =
        std::async(std::launch::async, [&] { return c.compute->RunInstances(c.Run(image)); });
    REQUIRE(c.gate->AwaitHeld());
    const std::string id = c.StagedInstance();
    REQUIRE_FALSE(id.empty());
    std::thread opener([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      c.gate->Open();
    });
    const bool shown = reader.shows(c, id);
    const bool on_disk_when_answered = c.OnDisk(id);
    opener.join();
    REQUIRE(launch.get().ok());
    CHECK(shown);                  // the answer came once the record was durable ...
    CHECK(on_disk_when_answered);  // ... and not before
  }
}

// Two RunInstances calls carried by ONE synced write (the group commit): when each call returns,
// its instance is on disk, and the desired-state generation of each call's host has been bumped
// (CommitPipelined bumps once per synced write, by whichever call of the write wakes first).
// Bugs this catches: a call answered before its record is durable (the OnDisk checks); the
// first waker bumping only its own hosts while marking the whole write as bumped (the other
// host's generation would never move, and its agent would not hear of the instance).
TEST_CASE("two concurrent launches share one synced write, both durable and both hosts told",
          "[controller][cloud_state][group_commit]") {
  TempDir dir;
  GatedController c(dir.path());
  const std::string host_a = c.AddHost("home-1a");
  const std::string host_b = c.AddHost("home-1b");
  const std::string host_c = c.AddHost("home-1c");
  const std::string image = c.RegisterImage();
  auto in_az = [&](const char* az) {
    v1::RunInstancesRequest req = c.Run(image);
    req.mutable_placement()->set_availability_zone(az);
    return req;
  };
  const uint64_t known_b = c.Generation(host_b), known_c = c.Generation(host_c);
  const auto stats_before = c.state->commit_stats();

  // The first launch's synced write is held at the gate; two more launches stage behind it and
  // wait, so the next synced write carries both of them.
  c.gate->Close();
  auto first =
      std::async(std::launch::async, [&] { return c.compute->RunInstances(in_az("home-1a")); });
  REQUIRE(c.gate->AwaitHeld());
  auto second =
      std::async(std::launch::async, [&] { return c.compute->RunInstances(in_az("home-1b")); });
  auto third =
      std::async(std::launch::async, [&] { return c.compute->RunInstances(in_az("home-1c")); });
  for (int i = 0; i < 3000 && c.StagedCount() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(c.StagedCount() == 3);
  c.gate->Open();

  REQUIRE(first.get().ok());
  for (auto* call : {&second, &third}) {
    auto r = call->get();
    REQUIRE(r.ok());
    REQUIRE(r->instances_size() == 1);
    CHECK(c.OnDisk(r->instances(0).instance_id()));  // durable when the call returned
  }
  const auto stats_after = c.state->commit_stats();
  CHECK(stats_after.store_commits - stats_before.store_commits == 2);  // {first}, {second, third}
  CHECK(stats_after.max_group >= 2);
  CHECK(c.Generation(host_b) > known_b);
  CHECK(c.Generation(host_c) > known_c);
}

TEST_CASE("a failed durable write stops the controller", "[controller][cloud_state][death]") {
  struct Row {
    const char* name;
    // Runs the request whose commit fails (the store already refuses every commit).
    std::function<absl::Status(GatedController&, const std::string& image)> request;
  };
  const Row rows[] = {
      {"RunInstances (pipelined commit)",
       [](GatedController& c, const std::string& image) {
         return c.compute->RunInstances(c.Run(image)).status();
       }},
      {"RegisterHost (commit under the lock)",
       [](GatedController& c, const std::string&) {
         v1::RegisterHostRequest req;
         req.set_hostname("second");
         req.set_endpoint("agent:2");
         req.mutable_topology()->set_region("home-1");
         req.mutable_topology()->set_availability_zone("home-1b");
         req.mutable_topology()->set_rack("rack-9");
         req.mutable_capacity()->set_vcpus(2);
         req.mutable_capacity()->set_memory_mib(2048);
         return c.fleet->RegisterHost(req).status();
       }},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    TempDir dir;
    const ChildResult child = RunInChild(dir.path(), [&] {
      GatedController c(dir.path());
      c.AddHost();
      const std::string image = c.RegisterImage();
      c.gate->FailWith(absl::DataLossError("disk on fire"));
      const absl::Status s = row.request(c, image);
      std::printf("request returned: %s\n", s.ToString().c_str());
    });
    INFO(child.output);
    CHECK(Aborted(child));
    CHECK_THAT(child.output, Catch::Matchers::Contains(kCriticalLine));
    CHECK_THAT(child.output, Catch::Matchers::Contains("disk on fire"));
    CHECK_THAT(child.output, !Catch::Matchers::Contains("request returned"));

    // The store is the truth a restart loads: what was durable is there, the refused change
    // is not.
    GatedController restarted(dir.path());
    std::lock_guard<std::mutex> lock(restarted.state->mu());
    CHECK(restarted.state->hosts().size() == 1);
    CHECK(restarted.state->images().size() == 1);
    CHECK(restarted.state->instances().empty());
  }
}

}  // namespace minicloud::controller
