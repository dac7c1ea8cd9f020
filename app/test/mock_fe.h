/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * Test helpers and an in-process mock vhost-user front-end.
 *
 * The mock plays QEMU's part over a real unix socket: it owns "guest
 * memory" (a memfd it maps itself), sends any request with any payload and
 * fds, and reads replies. Its guest-physical addresses start at
 * MOCK_FE_GPA_BASE; its front-end virtual addresses are its own pointers,
 * so tests (and the datapath's tests) can build rings and packets in guest
 * memory through plain pointers.
 *
 * Typical use:
 *   mock_fe_connect(&fe, path, 1 << 20);
 *   mock_fe_setup(&fe, &opts);          // features, memory, vrings, DRIVER_OK
 *   ... fe.vr[0].desc / avail / used are the guest side of vring 0 ...
 *   mock_fe_close(&fe);
 */

#ifndef VHU_MOCK_FE_H
#define VHU_MOCK_FE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhu.h"
#include "vhu_codec.h"
#include "vhu_proto.h"

/* ---- generic test helpers ---- */

/* A private directory for socket files (mkdtemp under /tmp). 0 or -1. */
int vhu_test_tmpdir(char *buf, size_t len);
/* Remove the directory and any socket files left in it. */
void vhu_test_rmdir(const char *dir);
/* Open fds of this process (entries of /proc/self/fd). */
int vhu_test_count_fds(void);
/* Threads of this process (entries of /proc/self/task). */
int vhu_test_count_threads(void);
/* Wait until *v >= target, polling every 2 ms, at most timeout_ms. 1 if reached. */
int vhu_test_wait(volatile int *v, int target, int timeout_ms);
/* Sleep ms milliseconds. */
void vhu_test_sleep_ms(int ms);

/* ---- callbacks that record what the library tells the application ---- */

#define VHU_REC_VIDS 64

struct vhu_test_rec {
	volatile int new_dev, destroy_dev, conn, disconn, state_calls, feat_calls;
	volatile int vid;                        /* last new_device */
	volatile int conn_vid;                   /* last new_connection */
	volatile int ready[VHU_REC_VIDS];        /* per vid: between new and destroy */
	volatile int state[16];                  /* last vring_state_changed (-1 none), any vid */
	volatile uint64_t features;              /* last features_changed */
	int refuse_new_device;                   /* new_device returns -1 */
	uint8_t save_blob[256];                  /* what save_state writes */
	int save_len;                            /* bytes, or a negative errno */
	uint8_t load_blob[256];                  /* what load_state received */
	int load_len;
	int load_rc;                             /* what load_state returns */
	volatile int load_calls;
};

extern struct vhu_test_rec vhu_rec;
extern const struct vhu_ops vhu_rec_ops;
void vhu_rec_reset(void);

/* ---- the mock front-end ---- */

#define MOCK_FE_GPA_BASE   0x40000000ull
#define MOCK_FE_MAX_VRINGS 8
#define MOCK_FE_TIMEOUT_MS 5000

/* Guest side of one split vring. */
struct mock_vring {
	uint16_t num;
	struct vhu_vring_desc *desc;    /* in guest memory */
	struct vhu_vring_avail *avail;
	struct vhu_vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kickfd;                     /* we write to kick the back-end */
	int callfd;                     /* the back-end writes to call us */
	int errfd;                      /* the back-end writes on guest faults */
};

struct mock_fe {
	int sock;
	int memfd;
	uint8_t *mem;          /* our mapping of guest memory */
	uint64_t mem_size;
	uint64_t alloc;        /* bump allocator offset into mem */
	uint64_t features;     /* what we negotiated */
	uint64_t protocol_features;
	bool no_owner; /* negotiate without SET_OWNER (virtio-user reconnecting) */
	bool iova_rings; /* ring addresses as IOVAs (ACCESS_PLATFORM): their GPAs, an
			  * identity IOMMU mapping the test installs with IOTLB_MSG */
	struct mock_vring vr[MOCK_FE_MAX_VRINGS];
};

/* Options for mock_fe_setup(); zero means "everything offered / defaults". */
struct mock_fe_opts {
	uint64_t features_mask;          /* take offered & mask (0: all offered) */
	uint64_t protocol_mask;          /* same for protocol features */
	unsigned int nvrings;            /* 0: 2 */
	uint16_t ring_size;              /* 0: 256 */
	bool no_enable;                  /* do not send SET_VRING_ENABLE */
	bool no_status;                  /* do not send SET_STATUS DRIVER_OK */
};

/* No connection, no memory, every fd -1: what mock_fe_close() may take. */
void mock_fe_reset(struct mock_fe *fe);
/* Connect to a vhu server socket (retrying up to 2 s) with mem_size bytes of
 * guest memory. On failure the mock is reset. */
int mock_fe_connect(struct mock_fe *fe, const char *path, uint64_t mem_size);
/* Adopt an already connected socket (client-mode tests). */
int mock_fe_attach(struct mock_fe *fe, int sock, uint64_t mem_size);
/* Close the connection, every fd and unmap guest memory. */
void mock_fe_close(struct mock_fe *fe);

/* Guest memory: allocate (zeroed) and translate. */
uint64_t mock_fe_alloc(struct mock_fe *fe, uint64_t size, uint64_t align);
void *mock_fe_gpa_to_ptr(struct mock_fe *fe, uint64_t gpa);
uint64_t mock_fe_ptr_to_gpa(struct mock_fe *fe, const void *p);
/* The whole of guest memory as one region description. */
struct vhu_mem_region_desc mock_fe_region(const struct mock_fe *fe);

/* Raw message I/O. flags 0 means VHU_FLAG_VERSION. */
int mock_fe_send(struct mock_fe *fe, uint32_t req, uint32_t flags, const void *payload,
		 uint32_t size, const int *fds, unsigned int nfds);
/* Read one message (reply) within MOCK_FE_TIMEOUT_MS. */
int mock_fe_recv(struct mock_fe *fe, struct vhu_msg *msg);
/* Send a request without payload and read its u64 reply. */
int mock_fe_get_u64(struct mock_fe *fe, uint32_t req, uint64_t *out);
/* Send with NEED_REPLY and read the ack; *ack = reply value (0 = ok). */
int mock_fe_ack(struct mock_fe *fe, uint32_t req, const void *payload, uint32_t size,
		const int *fds, unsigned int nfds, uint64_t *ack);
/* Has the back-end closed the connection (within timeout_ms)? */
bool mock_fe_closed(struct mock_fe *fe, int timeout_ms);
/* Is the connection alive: GET_FEATURES answered? */
bool mock_fe_alive(struct mock_fe *fe);

/* Steps of a normal start-up (each waits for REPLY_ACK when negotiated). */
int mock_fe_negotiate(struct mock_fe *fe, uint64_t features_mask, uint64_t protocol_mask);
int mock_fe_set_mem_table(struct mock_fe *fe);
/* Lay out vring idx (num entries) in guest memory and send NUM, BASE, ADDR, CALL, ERR, KICK. */
int mock_fe_setup_vring(struct mock_fe *fe, uint16_t idx, uint16_t num);
int mock_fe_vring_enable(struct mock_fe *fe, uint16_t idx, int enable);
int mock_fe_set_status(struct mock_fe *fe, uint8_t status);
/* GET_VRING_BASE: stop ring idx, *base = next avail index. */
int mock_fe_get_vring_base(struct mock_fe *fe, uint16_t idx, uint32_t *base);
/* All of the above: negotiate, memory, vrings, enable, DRIVER_OK. */
int mock_fe_setup(struct mock_fe *fe, const struct mock_fe_opts *opts);

#endif /* VHU_MOCK_FE_H */
