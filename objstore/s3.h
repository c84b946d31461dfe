// SPDX-License-Identifier: MIT
//
// The S3 backend: a Backend (backend.h) over any S3-compatible object store
// (AWS S3, Ceph RGW, MinIO, Garage, Backblaze B2), through libcurl and its
// built-in AWS SigV4 signer. See docs/s3.md for the setup, the credentials'
// sources, the retry rules and what each Backend call becomes.
//
// Location syntax (repo/location.h hands the part after "s3:" here):
//   s3:http://HOST[:PORT]/BUCKET[/PREFIX]
//   s3:https://HOST[:PORT]/BUCKET[/PREFIX]
//   s3:HOST/BUCKET[/PREFIX]                   (https)

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "objstore/backend.h"
#include "objstore/core/status.h"

namespace cairn::objstore {

// Where a repository is in S3: parsed from the location, no secrets in it.
struct S3Location {
  bool https = true;
  std::string host;    // "127.0.0.1:7480", "s3.eu-west-1.amazonaws.com"
  std::string bucket;  // 3 to 63 of [a-z0-9.-]
  std::string prefix;  // "" or "a/b" (no leading or trailing '/')
  // "s3:http://127.0.0.1:7480/bucket/prefix": as shown in messages.
  std::string Display() const;
};

// InvalidArgument, naming what is wrong, for a location that is not of the
// syntax above (no bucket, an empty host, credentials written into the URL,
// a bucket name S3 would refuse, "." or ".." or empty prefix segments).
Result<S3Location> ParseS3Location(std::string_view rest);

struct S3Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // "" unless temporary credentials
  // Where they came from, for messages (never the secret itself):
  // "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment" or
  // "profile 'default' in /root/.aws/credentials".
  std::string source;
};

struct S3Options {
  S3Location location;
  S3Credentials credentials;
  std::string region = "us-east-1";
  bool virtual_hosted = false;  // BUCKET.HOST/key instead of HOST/BUCKET/key
  std::string ca_file;          // extra CA bundle for https ("" = the system's)
  // No retry of a request starts later than this after its first attempt
  // (an attempt that is moving bytes is not cut off; one that stalls for
  // stall_timeout is).
  std::chrono::milliseconds deadline{std::chrono::minutes(2)};
  int max_attempts = 8;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // A transfer that moves no byte for this long is broken off (and retried).
  std::chrono::seconds stall_timeout{30};
  // PutFile of a file larger than this uploads it in parts of part_size.
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  // Reads shorter than half a window fetch the aligned window of this size
  // around them; of file content the last read_windows windows are kept
  // (LRU), of metadata (GetMetadataRange) the last read_windows / 2, so at
  // most 1.5 * read_window * read_windows bytes. 0 turns it off.
  uint64_t read_window = 4ull << 20;
  size_t read_windows = 8;
  // If set, the backend appends one JSON line with its request counts to
  // this file when it is destroyed (tests and bench/ count requests).
  std::string stats_file;
  // Print each request (method and object name, never a header) on stderr.
  bool trace = false;
  // A canned ACL sent with every object written (x-amz-acl), e.g.
  // "bucket-owner-full-control" for hosts writing with S3 users of their
  // own into a bucket whose owner prunes, on servers where objects belong
  // to their writer (Ceph RGW; AWS buckets with ACLs enabled). "" = none.
  std::string acl;
};

// The options for `loc` from the environment, as the AWS tools read it:
// credentials from AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
// (+ AWS_SESSION_TOKEN), else from profile $AWS_PROFILE (default "default")
// in $AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials); the region
// from AWS_DEFAULT_REGION, AWS_REGION, the profile's "region" in
// $AWS_CONFIG_FILE (default ~/.aws/config), else us-east-1; cairn's own
// settings from CAIRN_S3_* (docs/s3.md). InvalidArgument, naming the
// variables to set, when there are no credentials or a setting is malformed.
Result<S3Options> S3OptionsFromEnvironment(const S3Location& loc);

// The backend. Safe for concurrent use; connections are reused.
std::unique_ptr<Backend> NewS3Backend(S3Options options);

}  // namespace cairn::objstore
