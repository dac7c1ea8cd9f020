/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * vhu-test: runs the registered tests of the selected suites.
 *   vhu-test [--suite NAME]... [--filter SUBSTR] [--list] [--huge] [--no-fork]
 *            [-- EAL args]
 *
 * Each case runs in a child process of its own, in a process group of its
 * own, under a time limit. The child initialises EAL itself (EAL is not
 * fork-safe: a copy of an initialised EAL shares its memory and config with
 * its parent and has none of its threads), runs the case (fixture setup,
 * body, teardown), cleans EAL up and exits with the case's status. The
 * runner reports a signal or a timeout (then the whole process group is
 * killed) as that case's failure and goes on with the next case; it
 * removes what EAL left in its runtime directory and hugetlbfs for each
 * child, and kills whatever the child left in its process group.
 *
 * EAL initialisation takes about 0.15 s (100 ms of it is DPDK measuring
 * the TSC), longer than most fast cases. So the runner keeps a few spare
 * children initialising EAL ahead (VHU_TEST_SPARES, default 2; none with
 * --huge, where each would hold its own hugepages): each spare waits on a
 * pipe for the index of the case it is to run. Two more things make each
 * start cheaper: the runner loads the PMD plugins EAL is going to load (the
 * directory librte_eal names, loaded in the same order) before it forks,
 * so a child's dlopen finds them loaded (nothing else of EAL runs in the
 * runner); and EAL's runtime directory (RUNTIME_DIRECTORY, unless set) is
 * on tmpfs, /dev/shm/vhu-test-<pid>, instead of /var/run's disk.
 *
 * EAL options: --no-huge -m 512 unless --huge (then --single-file-segments
 * -m 512), a private --file-prefix per process, lcores 0-1, no PCI, no
 * telemetry, DPDK's virtio PMD loaded, and anything after --.
 *
 * Environment:
 *   VHU_TEST_NO_FORK=1         as --no-fork: every case in this process, in
 *                              turn, EAL initialised once, no time limit
 *                              (for gdb); a crash ends the run
 *   VHU_TEST_TIMEOUT_SCALE=F   multiply every time limit by F (slow builds)
 *   VHU_TEST_SPARES=N          spare children initialising EAL ahead (0-8)
 */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mntent.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "vhu_test.h"

#ifndef VHU_TEST_DPDK_PMD_DIR
#define VHU_TEST_DPDK_PMD_DIR "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"
#endif
#ifndef VHU_TEST_BUILD_DIR
#define VHU_TEST_BUILD_DIR "."
#endif

const char *vhu_test_dpdk_pmd_dir = VHU_TEST_DPDK_PMD_DIR;
const char *vhu_test_build_dir = VHU_TEST_BUILD_DIR;
int vhu_test_huge;
int vhu_test_runner_pid;

static struct vhu_test_case *tests_head;
static struct vhu_test_case **tests_tail = &tests_head;

void
vhu_test_register(struct vhu_test_case *tc)
{
	tc->next = NULL;
	*tests_tail = tc;
	tests_tail = &tc->next;
}

/* ---------------------------------------------------------------- selection */

#define MAX_SUITES 8

/* Suites run only when named with --suite. */
static const char *const hidden_suites[] = { "selftest" };

/* Time limit of a case whose suite gives none below (seconds). */
#define DEFAULT_TIMEOUT_S 120

static const struct {
	const char *suite;
	unsigned int timeout_s;
} suite_timeouts[] = {
	{ "fast", 60 },
	{ "driver", 180 },
	{ "perf", 180 },
	{ "stress", 400 },
	{ "selftest", 10 },
};

static int
selected(const struct vhu_test_case *tc, char **suites, int nsuites, const char *filter)
{
	unsigned int h;
	int i;

	if (filter != NULL && strstr(tc->name, filter) == NULL)
		return 0;
	if (nsuites == 0) {
		for (h = 0; h < RTE_DIM(hidden_suites); h++)
			if (strcmp(tc->suite, hidden_suites[h]) == 0)
				return 0;
		return 1;
	}
	for (i = 0; i < nsuites; i++)
		if (strcmp(suites[i], tc->suite) == 0)
			return 1;
	return 0;
}

static double timeout_scale = 1.0;

static double
case_timeout_s(const struct vhu_test_case *tc)
{
	unsigned int t = tc->timeout_s, i;

	for (i = 0; t == 0 && i < RTE_DIM(suite_timeouts); i++)
		if (strcmp(suite_timeouts[i].suite, tc->suite) == 0)
			t = suite_timeouts[i].timeout_s;
	if (t == 0)
		t = DEFAULT_TIMEOUT_S;
	return t * timeout_scale;
}

/* ---------------------------------------------------------------- one case */

/* Setup, body, teardown: a test status. */
static int
run_case(const struct vhu_test_case *tc)
{
	const struct vhu_test_fixture *fx = tc->fixture;
	void *obj;
	int rc = TEST_SUCCESS, td;

	if (fx == NULL)
		return tc->fn();
	obj = calloc(1, fx->size != 0 ? fx->size : 1);
	if (obj == NULL) {
		fprintf(stderr, "    %s: no memory for fixture %s\n", tc->name, fx->name);
		return TEST_FAILED;
	}
	if (fx->setup != NULL) {
		rc = fx->setup(obj);
		if (rc == TEST_FAILED)
			fprintf(stderr, "    %s: fixture %s: setup failed\n", tc->name, fx->name);
	}
	if (rc == TEST_SUCCESS)
		rc = tc->body(obj);
	if (fx->teardown != NULL) {
		td = fx->teardown(obj, rc);
		if (td != TEST_SUCCESS) {
			fprintf(stderr, "    %s: fixture %s: teardown failed\n", tc->name,
					fx->name);
			if (rc != TEST_FAILED)
				rc = TEST_FAILED;
		}
	}
	free(obj);
	return rc;
}

/* ---------------------------------------------------------------- EAL */

static char eal_virtio_pmd[PATH_MAX];
static char *eal_extra[32];
static int eal_nextra;
static char *prgname;

/* rte_eal_init with the runner's options and this --file-prefix. */
static int
eal_start(const char *prefix)
{
	static char prefix_arg[96]; /* EAL may keep pointers into its arguments */
	char *argv[64];
	int argc = 0, i;

	snprintf(prefix_arg, sizeof(prefix_arg), "--file-prefix=%s", prefix);
	argv[argc++] = prgname;
	argv[argc++] = prefix_arg;
	argv[argc++] = (char *)"--no-pci";
	argv[argc++] = (char *)"--no-telemetry";
	argv[argc++] = (char *)"-l";
	argv[argc++] = (char *)"0,1";
	if (!vhu_test_huge)
		argv[argc++] = (char *)"--no-huge";
	else
		argv[argc++] = (char *)"--single-file-segments";
	argv[argc++] = (char *)"-m";
	argv[argc++] = (char *)"512";
	argv[argc++] = (char *)"-d";
	argv[argc++] = eal_virtio_pmd;
	argv[argc++] = (char *)"--log-level=lib.eal:error";
	for (i = 0; i < eal_nextra; i++)
		argv[argc++] = eal_extra[i];
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "    EAL init failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* The runtime directory EAL makes for a prefix (its rule, eal_filesystem.c). */
static void
eal_runtime_dir(const char *prefix, char *buf, size_t len)
{
	const char *base = getenv("RUNTIME_DIRECTORY");

	if (base == NULL)
		base = getuid() == 0 ? "/var/run" : getenv("XDG_RUNTIME_DIR");
	if (base == NULL)
		base = "/tmp";
	snprintf(buf, len, "%s/dpdk/%s", base, prefix);
}

/* Remove what EAL left for prefix: its runtime directory (files only, no
 * subdirectories) and, with --huge, its files in every hugetlbfs mount. */
void
vhu_test_eal_remove(const char *prefix)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	size_t plen = strlen(prefix);
	struct dirent *de;
	struct mntent *me;
	FILE *mounts;
	DIR *d;

	eal_runtime_dir(prefix, dir, sizeof(dir));
	d = opendir(dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
		rmdir(dir);
	}
	if (!vhu_test_huge)
		return;
	mounts = setmntent("/proc/mounts", "r");
	if (mounts == NULL)
		return;
	while ((me = getmntent(mounts)) != NULL) {
		if (strcmp(me->mnt_type, "hugetlbfs") != 0)
			continue;
		d = opendir(me->mnt_dir);
		if (d == NULL)
			continue;
		/* EAL names them <prefix>map_<n> (and <prefix>seg_... for some modes) */
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, prefix, plen) != 0 ||
					(strncmp(de->d_name + plen, "map_", 4) != 0 &&
							strncmp(de->d_name + plen, "seg_", 4) != 0))
				continue;
			snprintf(path, sizeof(path), "%s/%s", me->mnt_dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	endmntent(mounts);
}

/*
 * The plugin directory EAL loads by itself: librte_eal carries it as
 * "DPDK_PLUGIN_PATH=<dir>" (what dpdk-pmdinfo reads). Empty when not found.
 */
static void
eal_plugin_dir(char *buf, size_t len)
{
	static const char key[] = "DPDK_PLUGIN_PATH=";
	Dl_info info;
	struct stat st;
	const char *p;
	void *map;
	int fd;

	buf[0] = '\0';
	if (dladdr((void *)(uintptr_t)rte_eal_init, &info) == 0 || info.dli_fname == NULL)
		return;
	fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			const char *end = (const char *)map + st.st_size;

			p = memmem(map, (size_t)st.st_size, key, sizeof(key) - 1);
			if (p != NULL) {
				p += sizeof(key) - 1;
				snprintf(buf, len, "%.*s", (int)strnlen(p, (size_t)(end - p)), p);
			}
			munmap(map, (size_t)st.st_size);
		}
	}
	close(fd);
}

/* Does name end in ".so" or ".so.<major>.<minor>" (the ABI suffix EAL takes)? */
static bool
plugin_name(const char *name)
{
	const char *so = strstr(name, ".so");
	unsigned int dots = 0;

	if (so == NULL)
		return false;
	so += 3;
	if (*so == '\0')
		return true;
	for (; *so != '\0'; so++) {
		if (*so == '.')
			dots++;
		else if (*so < '0' || *so > '9')
			return false;
	}
	return dots == 2;
}

/*
 * Load every plugin of EAL's own plugin directory, in EAL's order
 * (readdir), and the -d one. Their constructors only register drivers;
 * a child's EAL then finds them loaded and only takes a reference.
 */
static void
preload_plugins(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *de;
	struct stat st;
	DIR *d;

	eal_plugin_dir(dir, sizeof(dir));
	if (dir[0] == '\0')
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!plugin_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			dlopen(path, RTLD_NOW);
	}
	closedir(d);
	dlopen(eal_virtio_pmd, RTLD_NOW);
}

/* EAL's runtime files on tmpfs unless the caller chose a place: "" or the directory made. */
static char own_runtime_dir[64];

static void
runtime_dir_on_tmpfs(void)
{
	struct stat st;

	if (getenv("RUNTIME_DIRECTORY") != NULL || stat("/dev/shm", &st) != 0 ||
			!S_ISDIR(st.st_mode))
		return;
	snprintf(own_runtime_dir, sizeof(own_runtime_dir), "/dev/shm/vhu-test-%d", (int)getpid());
	if (mkdir(own_runtime_dir, 0700) != 0 ||
			setenv("RUNTIME_DIRECTORY", own_runtime_dir, 1) != 0)
		own_runtime_dir[0] = '\0';
}

/* Remove the runtime directory made above (EAL's "dpdk" in it, once empty). */
static void
runtime_dir_remove(void)
{
	char path[96];

	if (own_runtime_dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/dpdk", own_runtime_dir);
	rmdir(path);
	rmdir(own_runtime_dir);
}

/* ---------------------------------------------------------------- children */

#define MAX_SPARES       8
#define CHILD_EAL_FAILED 3 /* exit status: EAL did not start */

struct child {
	pid_t pid; /* 0: slot free */
	int pidfd; /* -1: none (old kernel), waitid polling instead */
	int go;    /* write end: the case index goes here */
	char prefix[64];
};

/* The active child first, then the spares, oldest first. */
static struct child children[MAX_SPARES + 1];
static unsigned int child_seq;
/* Process groups to kill if the runner is told to stop (signal handler). */
static volatile sig_atomic_t child_pgid[MAX_SPARES + 1];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A child process: EAL, then the case the runner names (or nothing on EOF). */
static void child_main(int go, const char *prefix, pid_t runner) __attribute__((noreturn));

static void
child_main(int go, const char *prefix, pid_t runner)
{
	uint32_t idx = 0;
	struct vhu_test_case *tc;
	bool eal_ok;
	ssize_t n;
	int rc;

	/* the runner gone: so is this process */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != runner)
		_exit(1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	eal_ok = eal_start(prefix) == 0;
	do {
		n = read(go, &idx, sizeof(idx));
	} while (n < 0 && errno == EINTR);
	close(go);
	if (n != (ssize_t)sizeof(idx)) {
		/* not needed: leave quietly */
		if (eal_ok)
			rte_eal_cleanup();
		_exit(0);
	}
	if (!eal_ok)
		_exit(CHILD_EAL_FAILED);
	for (tc = tests_head; tc != NULL && idx > 0; tc = tc->next)
		idx--;
	if (tc == NULL)
		_exit(CHILD_EAL_FAILED);
	rc = run_case(tc);
	rte_eal_cleanup();
	fflush(stdout);
	fflush(stderr);
	exit(rc == TEST_SUCCESS ? 0 : rc == TEST_SKIPPED ? TEST_SKIPPED : 1);
}

/* Fork a child into slot c; it starts EAL at once. 0 or -1. */
static int
child_spawn(struct child *c, unsigned int slot)
{
	pid_t runner = getpid();
	int p[2];
	unsigned int i;

	if (pipe2(p, O_CLOEXEC) != 0) {
		perror("pipe2");
		return -1;
	}
	snprintf(c->prefix, sizeof(c->prefix), "vhu-test-%d-%u", (int)runner, child_seq++);
	fflush(stdout);
	fflush(stderr);
	c->pid = fork();
	if (c->pid < 0) {
		perror("fork");
		c->pid = 0;
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (c->pid == 0) {
		setpgid(0, 0);
		close(p[1]);
		/* the other children's pipes and pidfds are not ours */
		for (i = 0; i < RTE_DIM(children); i++) {
			if (&children[i] == c || children[i].pid == 0)
				continue;
			close(children[i].go);
			if (children[i].pidfd >= 0)
				close(children[i].pidfd);
		}
		child_main(p[0], c->prefix, runner);
	}
	/* both sides set the group: whichever runs first, kill(-pid) works */
	setpgid(c->pid, c->pid);
	child_pgid[slot] = c->pid;
	close(p[0]);
	c->go = p[1];
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	return 0;
}

/*
 * Wait until the child has exited, at most timeout_s (< 0: forever), and
 * leave it unreaped (a zombie keeps its pid and process group id, so
 * killing the group cannot reach a stranger). 1 when it exited, 0 if not.
 */
static int
child_wait_exit(struct child *c, double timeout_s)
{
	double end = now_s() + timeout_s;
	siginfo_t si;

	for (;;) {
		double left = end - now_s();
		int ms = timeout_s < 0 ? -1 : left <= 0 ? 0 : (int)(left * 1000) + 1;

		if (c->pidfd >= 0) {
			struct pollfd pfd = { .fd = c->pidfd, .events = POLLIN };
			int r = poll(&pfd, 1, ms);

			if (r > 0)
				return 1;
			if (r < 0 && errno != EINTR)
				return 0;
			if (r == 0)
				return 0;
			continue;
		}
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
			return 1;
		if (ms == 0)
			return 0;
		usleep(2000);
	}
}

/*
 * End a child that has exited (or kill it and wait, when kill is set):
 * SIGKILL its process group (whatever it left running), reap it, remove
 * what EAL left for it. Its wait status, or -1 when it could not be reaped.
 */
static int
child_reap(struct child *c, unsigned int slot, bool kill_first)
{
	int status = -1;

	if (kill_first) {
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		if (!child_wait_exit(c, 10.0))
			fprintf(stderr, "    child %d did not die within 10 s of SIGKILL\n",
					(int)c->pid);
	}
	kill(-c->pid, SIGKILL);
	if (waitpid(c->pid, &status, kill_first ? WNOHANG : 0) <= 0)
		status = -1;
	child_pgid[slot] = 0;
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->go >= 0)
		close(c->go);
	vhu_test_eal_remove(c->prefix);
	memset(c, 0, sizeof(*c));
	c->go = -1;
	c->pidfd = -1;
	return status;
}

static void
on_stop_signal(int sig)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(children); i++)
		if (child_pgid[i] > 0)
			kill(-(pid_t)child_pgid[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

enum outcome {
	OUT_PASS,
	OUT_FAIL,
	OUT_SKIP
};

/*
 * Run tc (index idx in the list) in children[0], which is a spare started
 * earlier or one forked now; top the spares up while it runs.
 */
static enum outcome
run_forked(const struct vhu_test_case *tc, uint32_t idx, unsigned int nspares, double *secs)
{
	struct child *c = &children[0];
	double limit = case_timeout_s(tc), t0;
	unsigned int i;
	int status;
	ssize_t n;

	if (c->pid == 0 && child_spawn(c, 0) != 0)
		return OUT_FAIL;
	t0 = now_s();
	n = write(c->go, &idx, sizeof(idx));
	close(c->go);
	c->go = -1;
	/* the spares start EAL while the case runs */
	for (i = 1; i <= nspares; i++)
		if (children[i].pid == 0)
			child_spawn(&children[i], i);
	if (n != (ssize_t)sizeof(idx))
		fprintf(stderr, "    %s: the case's process was gone before it started (%s)\n",
				tc->name, strerror(errno));
	if (!child_wait_exit(c, limit)) {
		*secs = now_s() - t0;
		fprintf(stderr, "    %s: timed out after %.0f s: killing its process group\n",
				tc->name, limit);
		child_reap(c, 0, true);
		return OUT_FAIL;
	}
	*secs = now_s() - t0;
	status = child_reap(c, 0, false);
	if (status == -1) {
		fprintf(stderr, "    %s: could not reap its process\n", tc->name);
		return OUT_FAIL;
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "    %s: killed by signal %d (%s)\n", tc->name, WTERMSIG(status),
				strsignal(WTERMSIG(status)));
		return OUT_FAIL;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		return OUT_PASS;
	case TEST_SKIPPED:
		return OUT_SKIP;
	case 1:
		return OUT_FAIL;
	case CHILD_EAL_FAILED:
		fprintf(stderr, "    %s: EAL did not start in its process\n", tc->name);
		return OUT_FAIL;
	default:
		fprintf(stderr, "    %s: its process exited with status %d\n", tc->name,
				WEXITSTATUS(status));
		return OUT_FAIL;
	}
}

/* Move the oldest spare into the active slot (children[0] is free). */
static void
promote_spare(unsigned int nspares)
{
	unsigned int i;

	if (nspares == 0 || children[1].pid == 0)
		return;
	children[0] = children[1];
	child_pgid[0] = child_pgid[1];
	for (i = 1; i < nspares; i++) {
		children[i] = children[i + 1];
		child_pgid[i] = child_pgid[i + 1];
	}
	memset(&children[nspares], 0, sizeof(children[nspares]));
	children[nspares].go = -1;
	children[nspares].pidfd = -1;
	child_pgid[nspares] = 0;
}

/* Unused spares: EOF on their pipe makes them clean EAL up and leave. */
static void
retire_spares(void)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(children); i++) {
		struct child *c = &children[i];

		if (c->pid == 0)
			continue;
		close(c->go);
		c->go = -1;
	}
	for (i = 0; i < RTE_DIM(children); i++) {
		struct child *c = &children[i];

		if (c->pid == 0)
			continue;
		child_reap(c, i, !child_wait_exit(c, 10.0));
	}
}

/* ---------------------------------------------------------------- main */

static const char *
outcome_word(enum outcome o)
{
	return o == OUT_PASS ? "PASS" : o == OUT_SKIP ? "SKIP" : "FAIL";
}

static bool
env_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "filter", required_argument, NULL, 'f' },
		{ "list", no_argument, NULL, 'l' },
		{ "huge", no_argument, NULL, 'H' },
		{ "no-fork", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char *suites[MAX_SUITES];
	int nsuites = 0, list = 0, opt, i;
	bool no_fork = env_flag("VHU_TEST_NO_FORK");
	const char *filter = NULL, *v;
	unsigned int passed = 0, failed = 0, skipped = 0, nspares = 2;
	struct vhu_test_case *tc;
	char prefix[64];
	uint32_t idx;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (nsuites < MAX_SUITES)
				suites[nsuites++] = optarg;
			break;
		case 'f':
			filter = optarg;
			break;
		case 'l':
			list = 1;
			break;
		case 'H':
			vhu_test_huge = 1;
			break;
		case 'n':
			no_fork = true;
			break;
		default:
			fprintf(stderr, "usage: %s [--suite NAME]... [--filter SUBSTR] [--list] [--huge] [--no-fork] [-- EAL args]\n",
					argv[0]);
			return 2;
		}
	}

	if (list) {
		for (tc = tests_head; tc != NULL; tc = tc->next)
			if (selected(tc, suites, nsuites, filter))
				printf("%s %s\n", tc->suite, tc->name);
		return 0;
	}

	v = getenv("VHU_TEST_TIMEOUT_SCALE");
	if (v != NULL && strtod(v, NULL) > 0)
		timeout_scale = strtod(v, NULL);
	v = getenv("VHU_TEST_SPARES");
	if (v != NULL)
		nspares = (unsigned int)strtoul(v, NULL, 10);
	if (nspares > MAX_SPARES)
		nspares = MAX_SPARES;
	if (vhu_test_huge)
		nspares = 0;

	prgname = argv[0];
	snprintf(eal_virtio_pmd, sizeof(eal_virtio_pmd), "%s/librte_net_virtio.so",
			vhu_test_dpdk_pmd_dir);
	for (i = optind; i < argc && eal_nextra < (int)RTE_DIM(eal_extra); i++)
		eal_extra[eal_nextra++] = argv[i];
	vhu_test_runner_pid = (int)getpid();
	runtime_dir_on_tmpfs();
	for (i = 0; i < (int)RTE_DIM(children); i++) {
		children[i].go = -1;
		children[i].pidfd = -1;
	}

	if (no_fork) {
		snprintf(prefix, sizeof(prefix), "vhu-test-%d", (int)getpid());
		if (eal_start(prefix) != 0) {
			vhu_test_eal_remove(prefix);
			runtime_dir_remove();
			printf("0 passed, 1 failed\n");
			return 1;
		}
	} else {
		preload_plugins();
		signal(SIGPIPE, SIG_IGN);
		signal(SIGTERM, on_stop_signal);
		signal(SIGINT, on_stop_signal);
		signal(SIGHUP, on_stop_signal);
	}

	for (tc = tests_head, idx = 0; tc != NULL; tc = tc->next, idx++) {
		enum outcome o;
		double secs = 0, t0;

		if (!selected(tc, suites, nsuites, filter))
			continue;
		printf("RUN  %s/%s\n", tc->suite, tc->name);
		fflush(stdout);
		if (no_fork) {
			int rc;

			t0 = now_s();
			rc = run_case(tc);
			secs = now_s() - t0;
			if (rc == TEST_SUCCESS)
				o = OUT_PASS;
			else if (rc == TEST_SKIPPED)
				o = OUT_SKIP;
			else
				o = OUT_FAIL;
		} else {
			o = run_forked(tc, idx, nspares, &secs);
			promote_spare(nspares);
		}
		if (o == OUT_PASS)
			passed++;
		else if (o == OUT_SKIP)
			skipped++;
		else
			failed++;
		printf("%s %s/%s (%.2f s)\n", outcome_word(o), tc->suite, tc->name, secs);
		fflush(stdout);
	}

	if (no_fork) {
		rte_eal_cleanup();
		vhu_test_eal_remove(prefix);
	} else {
		retire_spares();
	}
	runtime_dir_remove();
	printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
