#include "guest/cfn/real_system.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "guest/cfn/http_client.h"

extern char** environ;

namespace minicloud::guest {

namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Runs argv and turns a non-zero exit into an error carrying the output's last line.
Status RunChecked(const std::vector<std::string>& argv, std::string* output = nullptr,
                  std::map<std::string, std::string> env = {}) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.env = std::move(env);
  StatusOr<ProcessResult> r = RunProcess(spec);
  if (!r.ok()) return r.status();
  if (output) *output += r->output;
  if (!r->ok()) {
    std::string tail = r->output;
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    tail = tail.substr(tail.rfind('\n') == std::string::npos ? 0 : tail.rfind('\n') + 1);
    return Error(argv[0] + " gave " + r->Describe() + (tail.empty() ? "" : ": " + tail));
  }
  return OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool OnPath(const std::string& program) {
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    if (::access((std::string(dir) + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

StatusOr<ProcessResult> RunProcess(const ProcessSpec& spec, size_t max_output) {
  if (spec.argv.empty()) return Error("run: empty command");
  std::vector<std::string> env_strings;
  if (!spec.replace_env) {
    for (char** e = environ; *e; ++e) {
      std::string entry(*e);
      if (!spec.env.count(entry.substr(0, entry.find('=')))) env_strings.push_back(entry);
    }
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int out[2], status_pipe[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Error(Errno("pipe"));
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Error(Errno("pipe"));
  }
  pid_t pid = ::fork();
  if (pid < 0) return Error(Errno("fork"));
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    int err = 0;
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
      err = errno;
    } else {
      ::execvpe(argv[0], argv.data(), envp.data());
      err = errno;
    }
    ssize_t ignored = ::write(status_pipe[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(status_pipe[1]);
  int child_errno = 0;
  ssize_t n = ::read(status_pipe[0], &child_errno, sizeof child_errno);
  ::close(status_pipe[0]);
  ProcessResult result;
  char buffer[8192];
  while (true) {
    ssize_t got = ::read(out[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buffer, static_cast<size_t>(got));
    if (result.output.size() > max_output) {
      result.output.erase(0, result.output.size() - max_output);
    }
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n == sizeof child_errno) {
    errno = child_errno;
    return Error(Errno((spec.cwd.empty() ? "run " : "run in " + spec.cwd + ": ") + spec.argv[0]));
  }
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

Status MakeDirs(const std::string& path) {
  if (path.empty() || Exists(path)) return OkStatus();
  GUEST_RETURN_IF_ERROR(MakeDirs(Dirname(path)));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return Error(Errno("mkdir " + path));
  return OkStatus();
}

std::string SniffArchive(const std::string& b) {
  if (b.size() >= 4 && b.compare(0, 4, "PK\x03\x04") == 0) return "zip";
  if (b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x1f &&
      static_cast<unsigned char>(b[1]) == 0x8b) {
    return "gzip";
  }
  if (b.size() >= 3 && b.compare(0, 3, "BZh") == 0) return "bzip2";
  if (b.size() >= 6 && b.compare(0, 6,
                                 "\xFD"
                                 "7zXZ\x00",
                                 6) == 0)
    return "xz";
  if (b.size() >= 262 && b.compare(257, 5, "ustar") == 0) return "tar";
  return "";
}

StatusOr<ProcessResult> RealSystem::Run(const ProcessSpec& spec) { return RunProcess(spec); }

StatusOr<std::optional<std::string>> RealSystem::ReadFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Error(Errno("stat " + path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error("read " + path + ": cannot open");
  std::ostringstream content;
  content << in.rdbuf();
  return std::optional<std::string>(content.str());
}

Status RealSystem::WriteFileAtomic(const std::string& path, const std::string& content,
                                   unsigned mode) {
  GUEST_RETURN_IF_ERROR(MakeDirs(Dirname(path)));
  std::string temp = path + ".cfn-init.XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) return Error(Errno("create a temporary file next to " + path));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status st = Error(Errno("write " + path));
      ::close(fd);
      ::unlink(temp.c_str());
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    Status st = Error(Errno("chmod/fsync " + path));
    ::close(fd);
    ::unlink(temp.c_str());
    return st;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    Status st = Error(Errno("rename into " + path));
    ::unlink(temp.c_str());
    return st;
  }
  return OkStatus();
}

std::optional<unsigned> RealSystem::FileMode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_mode & 07777;
}

StatusOr<bool> RealSystem::Symlink(const std::string& target, const std::string& path) {
  char current[4096];
  ssize_t n = ::readlink(path.c_str(), current, sizeof current);
  if (n >= 0 && std::string(current, static_cast<size_t>(n)) == target) return false;
  GUEST_RETURN_IF_ERROR(MakeDirs(Dirname(path)));
  std::string temp = path + ".cfn-init.link";
  ::unlink(temp.c_str());
  if (::symlink(target.c_str(), temp.c_str()) != 0) return Error(Errno("symlink " + path));
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Error(Errno("symlink " + path));
  }
  return true;
}

Status RealSystem::Chown(const std::string& path, const std::string& owner,
                         const std::string& group) {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  if (!owner.empty()) {
    if (owner.find_first_not_of("0123456789") == std::string::npos && owner.size() < 10) {
      uid = static_cast<uid_t>(std::stoul(owner));
    } else if (struct passwd* pw = ::getpwnam(owner.c_str())) {
      uid = pw->pw_uid;
    } else {
      return Error("chown " + path + ": no user " + owner);
    }
  }
  if (!group.empty()) {
    if (group.find_first_not_of("0123456789") == std::string::npos && group.size() < 10) {
      gid = static_cast<gid_t>(std::stoul(group));
    } else if (struct group* gr = ::getgrnam(group.c_str())) {
      gid = gr->gr_gid;
    } else {
      return Error("chown " + path + ": no group " + group);
    }
  }
  if (::lchown(path.c_str(), uid, gid) != 0) return Error(Errno("chown " + path));
  return OkStatus();
}

bool RealSystem::GroupExists(const std::string& name) { return ::getgrnam(name.c_str()); }

Status RealSystem::AddGroup(const std::string& name, const std::optional<std::string>& gid) {
  std::vector<std::string> argv = {"groupadd"};
  if (gid) argv.insert(argv.end(), {"-g", *gid});
  argv.push_back(name);
  return RunChecked(argv);
}

bool RealSystem::UserExists(const std::string& name) { return ::getpwnam(name.c_str()); }

Status RealSystem::AddUser(const std::string& name, const std::vector<std::string>& groups,
                           const std::optional<std::string>& uid,
                           const std::optional<std::string>& home) {
  // Like the AWS helper: a non-interactive account (no login shell).
  std::vector<std::string> argv = {"useradd", "-s", "/sbin/nologin"};
  if (uid) argv.insert(argv.end(), {"-u", *uid});
  if (home) argv.insert(argv.end(), {"-d", *home, "-m"});
  if (!groups.empty()) {
    std::string list;
    for (const std::string& g : groups) list += (list.empty() ? "" : ",") + g;
    argv.insert(argv.end(), {"-G", list});
  }
  argv.push_back(name);
  return RunChecked(argv);
}

Status RealSystem::AddUserToGroups(const std::string& name,
                                   const std::vector<std::string>& groups) {
  for (const std::string& g : groups) {
    GUEST_RETURN_IF_ERROR(RunChecked({"usermod", "-a", "-G", g, name}));
  }
  return OkStatus();
}

StatusOr<std::vector<std::string>> RealSystem::AptInstall(const std::vector<std::string>& packages,
                                                          std::string& output) {
  std::vector<std::string> missing;
  for (const std::string& p : packages) {
    std::string name = p.substr(0, p.find('='));
    std::string version = p.find('=') == std::string::npos ? "" : p.substr(p.find('=') + 1);
    ProcessSpec q;
    q.argv = {"dpkg-query", "-W", "-f=${Status}|${Version}", name};
    StatusOr<ProcessResult> r = RunProcess(q);
    bool installed = r.ok() && r->ok() && r->output.find("install ok installed") == 0;
    if (installed && !version.empty()) {
      installed = r->output.substr(r->output.find('|') + 1) == version;
    }
    if (!installed) missing.push_back(p);
  }
  if (missing.empty()) return missing;
  const std::map<std::string, std::string> env = {{"DEBIAN_FRONTEND", "noninteractive"}};
  if (!apt_updated_) {
    GUEST_RETURN_IF_ERROR(RunChecked({"apt-get", "-q", "update"}, &output, env));
    apt_updated_ = true;
  }
  std::vector<std::string> argv = {"apt-get", "-q", "-y", "install"};
  argv.insert(argv.end(), missing.begin(), missing.end());
  GUEST_RETURN_IF_ERROR(RunChecked(argv, &output, env));
  std::vector<std::string> names;
  for (const std::string& p : missing) names.push_back(p.substr(0, p.find('=')));
  return names;
}

StatusOr<std::string> RealSystem::Fetch(const std::string& url) {
  if (url.rfind("http://", 0) == 0) {
    HttpRequest request;
    request.url = url;
    request.timeout = std::chrono::milliseconds(300000);
    StatusOr<HttpResponse> r = SendHttp(request);
    if (!r.ok()) return r.status();
    if (r->status != 200) return Error("GET " + url + ": HTTP " + std::to_string(r->status));
    return r->body;
  }
  if (url.rfind("https://", 0) == 0) {
    if (!OnPath("curl")) return Error("GET " + url + ": https needs curl in the guest");
    ProcessSpec spec;
    spec.argv = {"curl", "-fsSL", "--retry", "3", url};
    StatusOr<ProcessResult> r = RunProcess(spec, size_t{1} << 31);
    if (!r.ok()) return r.status();
    if (!r->ok()) return Error("GET " + url + ": curl gave " + r->Describe());
    return r->output;
  }
  return Error("URL " + url + ": only http:// and https:// are supported");
}

Status RealSystem::Extract(const std::string& archive, const std::string& dir) {
  const std::string kind = SniffArchive(archive);
  if (kind.empty()) return Error("not a tar, tar.gz, tar.bz2, tar.xz or zip archive");
  GUEST_RETURN_IF_ERROR(MakeDirs(dir));
  char temp[] = "/tmp/cfn-init-source.XXXXXX";
  int fd = ::mkstemp(temp);
  if (fd < 0) return Error(Errno("temporary archive"));
  ::close(fd);
  Status written = WriteFileAtomic(temp, archive, 0600);
  Status st;
  if (!written.ok()) {
    st = written;
  } else if (kind != "zip") {
    st = RunChecked({"tar", "-x", "-f", temp, "-C", dir});  // GNU tar sniffs the compression
  } else if (OnPath("unzip")) {
    st = RunChecked({"unzip", "-o", "-q", temp, "-d", dir});
  } else if (OnPath("python3")) {
    st = RunChecked({"python3", "-m", "zipfile", "-e", temp, dir});
  } else {
    st = Error("a zip source needs unzip or python3 in the guest");
  }
  ::unlink(temp);
  return st;
}

Status RealSystem::Systemctl(const std::string& verb, const std::string& unit) {
  return RunChecked({"systemctl", verb, unit});
}

bool RealSystem::ServiceActive(const std::string& unit) {
  ProcessSpec spec;
  spec.argv = {"systemctl", "is-active", "--quiet", unit};
  StatusOr<ProcessResult> r = RunProcess(spec);
  return r.ok() && r->ok();
}

bool RealSystem::ServiceEnabled(const std::string& unit) {
  ProcessSpec spec;
  spec.argv = {"systemctl", "is-enabled", "--quiet", unit};
  StatusOr<ProcessResult> r = RunProcess(spec);
  return r.ok() && r->ok();
}

}  // namespace minicloud::guest
