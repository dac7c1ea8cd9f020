/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The vhu authors
 */

/* The library's log types (vhu_log.h). */

#include <rte_log.h>

#include "vhu_log.h"

RTE_LOG_REGISTER_SUFFIX(vhu_logtype_config, config, INFO);
RTE_LOG_REGISTER_SUFFIX(vhu_logtype_data, data, WARNING);
