/** A search the client got wrong; the FHIR layer answers 400 with an OperationOutcome naming `parameter`. */
export class InvalidSearch extends Error {
  constructor(
    message: string,
    readonly parameter: string,
  ) {
    super(message);
    this.name = 'InvalidSearch';
  }
}
