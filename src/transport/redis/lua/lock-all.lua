-- Takes the locks on several objects for one worker, all or none.
-- KEYS: the objects' lock keys
-- ARGV[1]: the worker's token
-- ARGV[2]: how long the locks live, in ms (they expire if the worker dies)
-- Returns 1 when every lock is taken (or already held by this token), -1 when another worker
-- holds one of them; then none is taken.
for _, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder ~= false and holder ~= ARGV[1] then
    return -1
  end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 1
