/**
 * A small JSON Schema checker for the subset the gateway's OpenAPI document uses: `$ref` to
 * `#/components/schemas/*`, `type`, `properties` + `required` (objects are closed: a property the schema
 * does not name is an error, so a field added to an answer must be documented), `items`, `enum`, `const`,
 * `pattern`, `minimum`, `maximum`, `oneOf`. Returns the list of violations, empty when the value conforms.
 * A keyword it does not know is itself a violation, so the document cannot silently outgrow it.
 */
type Schema = Record<string, unknown>

const KNOWN = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'items',
  'enum',
  'const',
  'pattern',
  'minimum',
  'maximum',
  'oneOf',
])

export function checkSchema(
  value: unknown,
  schema: Schema,
  components: Record<string, Schema>,
  at = '$',
): string[] {
  const errors: string[] = []
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) errors.push(`${at}: unsupported keyword ${k}`)
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/components/schemas/', '')
    const target = components[name]
    if (!target) return [`${at}: unknown $ref ${schema.$ref}`]
    return checkSchema(value, target, components, at)
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter(
      (s) => checkSchema(value, s, components, at).length === 0,
    )
    if (passing.length !== 1) errors.push(`${at}: matches ${passing.length} of oneOf, not exactly 1`)
  }
  if ('const' in schema && JSON.stringify(value) !== JSON.stringify(schema.const))
    errors.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`)
  if (Array.isArray(schema.enum) && !schema.enum.includes(value as never))
    errors.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`)
  const type = schema.type as string | undefined
  if (type !== undefined && !isType(value, type)) {
    errors.push(`${at}: ${JSON.stringify(value)?.slice(0, 80)} is not ${type}`)
    return errors
  }
  if (
    typeof value === 'string' &&
    typeof schema.pattern === 'string' &&
    !new RegExp(schema.pattern).test(value)
  )
    errors.push(`${at}: ${value.slice(0, 80)} does not match ${schema.pattern}`)
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: ${value} < minimum`)
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: ${value} > maximum`)
  }
  if (type === 'object') {
    const o = value as Record<string, unknown>
    const props = (schema.properties ?? {}) as Record<string, Schema>
    for (const r of (schema.required ?? []) as string[]) if (!(r in o)) errors.push(`${at}: missing ${r}`)
    for (const [k, v] of Object.entries(o)) {
      if (!props[k]) errors.push(`${at}: undocumented property ${k}`)
      else errors.push(...checkSchema(v, props[k], components, `${at}.${k}`))
    }
  }
  if (type === 'array' && schema.items)
    (value as unknown[]).forEach((v, i) => {
      errors.push(...checkSchema(v, schema.items as Schema, components, `${at}[${i}]`))
    })
  return errors
}

function isType(v: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string'
    case 'integer':
      return Number.isInteger(v)
    case 'number':
      return typeof v === 'number'
    case 'boolean':
      return typeof v === 'boolean'
    case 'null':
      return v === null
    case 'array':
      return Array.isArray(v)
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v)
    default:
      return false
  }
}
