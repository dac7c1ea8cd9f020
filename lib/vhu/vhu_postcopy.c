/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Postcopy live migration: the userfaultfd we give the front-end, the
 * regions registered with it and the replies that tell the front-end where
 * we mapped them. See vhu_postcopy.h for the protocol.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vhu_codec.h"
#include "vhu_dev.h"
#include "vhu_mem.h"
#include "vhu_postcopy.h"

enum pc_state {
	PC_ADVISED,   /* userfaultfd sent, nothing registered */
	PC_LISTENING, /* regions mapped from now on are registered */
};

struct vhu_postcopy {
	int uffd;
	enum pc_state state;
	bool ack_due;            /* a mapping reply went out: its acknowledgement comes next */
	unsigned int registered; /* regions registered so far (log lines) */
};

/* ---- userfaultfd ---- */

/*
 * A userfaultfd with the API handshake done. Without the right to catch
 * kernel-mode faults (vm.unprivileged_userfaultfd=0, no CAP_SYS_PTRACE), a
 * user-mode-only one does: the lcores touch guest memory from user mode.
 */
static int
uffd_open(const char **why)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd, err;

	fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
#ifdef UFFD_USER_MODE_ONLY
	if (fd < 0 && errno == EPERM)
		fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
#endif
	if (fd < 0) {
		err = errno;
		if (err == ENOSYS)
			*why = "userfaultfd(2) does not exist (kernel built without CONFIG_USERFAULTFD)";
		else if (err == EPERM)
			*why = "userfaultfd(2) is not permitted (vm.unprivileged_userfaultfd=0 "
			       "and no CAP_SYS_PTRACE)";
		else
			*why = "userfaultfd(2) failed";
		return -err;
	}
	if (ioctl(fd, UFFDIO_API, &api) != 0) {
		err = errno;
		close(fd);
		*why = "userfaultfd API handshake (UFFDIO_API) refused";
		return -err;
	}
	return fd;
}

/* Register [addr, addr + len) for missing-page faults; the front-end must be able to wake them. */
static int
uffd_register(int uffd, void *addr, size_t len, const char **why)
{
	struct uffdio_register reg;

	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uint64_t)(uintptr_t)addr;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
		*why = errno == EINVAL ? "the kernel cannot catch missing pages of this memory "
					 "(userfaultfd on shared memory)" :
					 "UFFDIO_REGISTER failed";
		return -errno;
	}
	if (!(reg.ioctls & (1ull << _UFFDIO_WAKE))) {
		*why = "the kernel cannot wake a fault on this memory (no UFFDIO_WAKE)";
		return -ENOTSUP;
	}
	return 0;
}

static int probe_rc;
static const char *probe_why;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* What a migration will do: missing-page faults on a shared memfd mapping. */
static void
probe(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p = MAP_FAILED;
	int uffd, mfd = -1;

	uffd = uffd_open(&probe_why);
	if (uffd < 0) {
		probe_rc = uffd;
		return;
	}
	mfd = memfd_create("vhu-postcopy-probe", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, pg) != 0) {
		probe_rc = -errno;
		probe_why = "memfd_create for the userfaultfd probe failed";
		goto out;
	}
	p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED) {
		probe_rc = -errno;
		probe_why = "mmap for the userfaultfd probe failed";
		goto out;
	}
	/* registered, never touched: nothing can fault here */
	probe_rc = uffd_register(uffd, p, (size_t)pg, &probe_why);
out:
	if (p != MAP_FAILED)
		munmap(p, (size_t)pg);
	if (mfd >= 0)
		close(mfd);
	close(uffd);
}

int
vhu_postcopy_probe(const char **why)
{
	pthread_once(&probe_once, probe);
	if (probe_rc != 0)
		*why = probe_why;
	return probe_rc;
}

/* ---- requests ---- */

int
vhu_postcopy_advise(struct vhu_dev *dev, int *ufd, const char **why)
{
	struct vhu_postcopy *pc;
	int fd;

	if (!(dev->protocol_features & VHU_BIT(VHU_PF_PAGEFAULT))) {
		*why = "protocol feature PAGEFAULT not negotiated";
		return -EPERM;
	}
	if (dev->postcopy != NULL) {
		*why = dev->postcopy->state == PC_LISTENING ?
				"already listening" :
				"already advised (a second POSTCOPY_ADVISE)";
		return -EPERM;
	}
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL) {
		*why = "out of memory";
		return -ENOMEM;
	}
	fd = uffd_open(why);
	if (fd < 0) {
		free(pc);
		return fd;
	}
	pc->uffd = fd;
	pc->state = PC_ADVISED;
	dev->postcopy = pc;
	*ufd = fd;
	VHU_LOG_CONFIG(INFO, dev->ifname, "postcopy: advised, userfaultfd sent");
	return 0;
}

int
vhu_postcopy_listen(struct vhu_dev *dev, const char **why)
{
	struct vhu_postcopy *pc = dev->postcopy;

	if (pc == NULL) {
		*why = "no POSTCOPY_ADVISE before";
		return -EPERM;
	}
	if (pc->state == PC_LISTENING) {
		*why = "already listening";
		return -EPERM;
	}
	/*
	 * Rings already running use memory mapped before: its pages were not
	 * registered and the front-end does not know where we mapped them, so
	 * a page still missing would be filled with zeros under the guest.
	 */
	if (vhu_dev_any_started(dev)) {
		*why = "rings are running on memory mapped before: its missing pages "
		       "could not be waited for";
		return -EPERM;
	}
	if (dev->mem != NULL)
		VHU_LOG_CONFIG(NOTICE, dev->ifname,
				"postcopy: the memory table mapped before "
				"is registered only when the front-end sends it again");
	pc->state = PC_LISTENING;
	VHU_LOG_CONFIG(INFO, dev->ifname, "postcopy: listening");
	return 0;
}

int
vhu_postcopy_end(struct vhu_dev *dev, const char **why)
{
	struct vhu_postcopy *pc = dev->postcopy;
	const struct vhu_mem *mem = dev->mem;
	uint32_t i;

	if (pc == NULL || pc->state != PC_LISTENING) {
		*why = "no POSTCOPY_LISTEN before";
		return -EPERM;
	}
	/*
	 * Every page has arrived: unregistering wakes nothing that would not
	 * find its page. Regions of earlier tables are unmapped already.
	 */
	for (i = 0; mem != NULL && i < mem->nregions; i++) {
		struct uffdio_range range = {
			.start = (uint64_t)(uintptr_t)mem->regions[i]->map_addr,
			.len = mem->regions[i]->map_len,
		};

		if (ioctl(pc->uffd, UFFDIO_UNREGISTER, &range) != 0)
			VHU_LOG_CONFIG(WARNING, dev->ifname,
					"postcopy: unregistering region %u: %s", i,
					strerror(errno));
	}
	close(pc->uffd);
	VHU_LOG_CONFIG(INFO, dev->ifname, "postcopy: ended (%u region registrations)",
			pc->registered);
	free(pc);
	dev->postcopy = NULL;
	return 0;
}

bool
vhu_postcopy_listening(const struct vhu_dev *dev)
{
	return dev->postcopy != NULL && dev->postcopy->state == PC_LISTENING;
}

int
vhu_postcopy_reply_table(struct vhu_dev *dev, const struct vhu_mem *tab, const struct vhu_msg *m,
		struct vhu_msg *r, const char **why)
{
	struct vhu_postcopy *pc = dev->postcopy;
	const struct vhu_mem_table *t = &m->payload.mem;
	uint32_t i;
	int rc;

	/* the reply has the request's layout and size (the codec checked it) */
	memcpy(&r->payload.mem, t, m->hdr.size);
	for (i = 0; i < t->nregions; i++) {
		const struct vhu_mem_region_desc *d = &t->regions[i];
		const struct vhu_mem_region *reg;

		reg = vhu_mem_find_exact(
				tab, d->guest_phys_addr, d->userspace_addr, d->memory_size);
		if (reg == NULL) {
			*why = "a region of the request is not in the table built from it";
			return -EINVAL;
		}
		rc = uffd_register(pc->uffd, reg->map_addr, reg->map_len, why);
		if (rc != 0)
			return rc;
		pc->registered++;
		r->payload.mem.regions[i].userspace_addr = reg->host;
	}
	r->hdr.size = m->hdr.size;
	pc->ack_due = true;
	VHU_LOG_CONFIG(INFO, dev->ifname, "postcopy: %u regions registered for missing pages",
			t->nregions);
	return 0;
}

int
vhu_postcopy_reply_region(struct vhu_dev *dev, const struct vhu_mem_region *reg,
		const struct vhu_msg *m, struct vhu_msg *r, const char **why)
{
	struct vhu_postcopy *pc = dev->postcopy;
	int rc;

	/* a region added again (QEMU: once per queue pair) is registered again: harmless */
	rc = uffd_register(pc->uffd, reg->map_addr, reg->map_len, why);
	if (rc != 0)
		return rc;
	pc->registered++;
	r->payload.memreg = m->payload.memreg;
	r->payload.memreg.region.userspace_addr = reg->host;
	r->hdr.size = m->hdr.size;
	pc->ack_due = true;
	VHU_LOG_CONFIG(INFO, dev->ifname,
			"postcopy: region at gpa 0x%" PRIx64 " registered for missing pages",
			reg->gpa);
	return 0;
}

bool
vhu_postcopy_take_ack(struct vhu_dev *dev, const struct vhu_msg *m)
{
	struct vhu_postcopy *pc = dev->postcopy;
	uint32_t req = m->hdr.request;

	if (pc == NULL || !pc->ack_due)
		return false;
	if (m->hdr.size == sizeof(uint64_t) &&
			(req == VHU_REQ_SET_MEM_TABLE || req == VHU_REQ_ADD_MEM_REG ||
					req == VHU_REQ_REM_MEM_REG || req == VHU_REQ_NONE)) {
		pc->ack_due = false;
		if (m->payload.u64 != 0)
			VHU_LOG_CONFIG(WARNING, dev->ifname,
					"postcopy: the front-end reports %" PRIu64
					" on our memory mapping reply",
					m->payload.u64);
		else
			VHU_LOG_CONFIG(DEBUG, dev->ifname, "postcopy: memory mapping acknowledged");
		return true;
	}
	/* more regions of the same update come before the acknowledgement */
	if (req == VHU_REQ_ADD_MEM_REG || req == VHU_REQ_REM_MEM_REG)
		return false;
	pc->ack_due = false;
	VHU_LOG_CONFIG(NOTICE, dev->ifname,
			"postcopy: %s came instead of the "
			"acknowledgement of our memory mapping reply",
			vhu_req_name(req));
	return false;
}

void
vhu_postcopy_free(struct vhu_dev *dev)
{
	if (dev->postcopy == NULL)
		return;
	close(dev->postcopy->uffd);
	free(dev->postcopy);
	dev->postcopy = NULL;
}
