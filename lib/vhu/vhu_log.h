/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/*
 * The library's log types: lib.vhu.config for the control plane,
 * lib.vhu.data for the datapath. Every line names the socket path.
 */

#ifndef VHU_LOG_H
#define VHU_LOG_H

#include <rte_log.h>

extern int vhu_logtype_config;
extern int vhu_logtype_data;

#define VHU_LOG_CONFIG(level, path, fmt, ...) \
	rte_log(RTE_LOG_##level, vhu_logtype_config, "VHU_CONFIG: (%s) " fmt "\n", (path), \
			##__VA_ARGS__)

#define VHU_LOG_DATA(level, path, fmt, ...) \
	rte_log(RTE_LOG_##level, vhu_logtype_data, "VHU_DATA: (%s) " fmt "\n", (path), \
			##__VA_ARGS__)

#endif /* VHU_LOG_H */
